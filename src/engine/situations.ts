/**
 * What the engine found for an object, and what it does about it. Every action in the provisioning log
 * follows from one situation; the pairs below are the whole decision table.
 *
 * Inbound (connector space → metaverse):
 *   linked          the CS object is joined to a metaverse object          → update (flows recomputed)
 *   unlinked-match  one metaverse object matched a join group              → join
 *   no-match        nothing matched; the rule projects                      → project
 *   no-match        nothing matched; the rule does not project              → skip (a disconnector)
 *   ambiguous       a join group matched two or more metaverse objects     → error (never a guess)
 *   out-of-scope    no inbound rule's scope takes the object               → disconnect, if linked
 *   source-deleted  the system no longer has the object                    → disconnect (and delete the
 *                                                                              metaverse object when no source is left)
 * Outbound (metaverse → connector space):
 *   linked          a target object is linked                              → update (pending export of the diff)
 *   unlinked-match  an existing target object matched                       → join, then update
 *   no-match        nothing to link, the rule provisions                    → create
 *   ambiguous       two or more target objects matched                     → error
 *   out-of-scope    linked, but the metaverse object left the rule's scope → deprovision per rule
 *   source-deleted  the metaverse object is gone                           → deprovision per rule
 *   target-missing  linked target object vanished from its system           → create again (the rule provisions)
 */

export type Situation =
  | 'linked'
  | 'unlinked-match'
  | 'no-match'
  | 'ambiguous'
  | 'out-of-scope'
  | 'source-deleted'
  | 'target-missing';

export type Action =
  | 'create'
  | 'update'
  | 'delete'
  | 'disable'
  | 'join'
  | 'project'
  | 'disconnect'
  | 'skip'
  | 'staged-delete'
  | 'error';
