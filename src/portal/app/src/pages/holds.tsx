/**
 * Held deletions: every connector whose deletion threshold holds changes, why (count against the limit),
 * what exactly is held (from the plan), and "approve" after a confirmation naming the count.
 */
import { useState } from 'preact/hooks';
import { allows, api, enc, type Role } from '../api';
import { useAction, useApi } from '../hooks';
import { Link } from '../router';
import type { Connector, List, PlanChange, PlanView } from '../types';
import { Empty, ErrorBox, heldCount, holdsOf, Loading, num } from '../ui';

export function HoldsPage(props: { role: Role }) {
  const connectors = useApi<List<Connector>>('/connectors');
  // what is held comes from a plan, computed on request (POST /plan: import and sync, nothing exported)
  const plan = useAction(() => api<PlanView>('POST', '/plan', {}));
  const planData = plan.result;
  const held = (connectors.data?.items ?? []).filter((c) => heldCount(c) > 0);
  const reload = () => connectors.reload();
  return (
    <>
      <h1>Held deletions</h1>
      <p>
        When a run would delete or disable more objects of a connector than its deletion threshold allows,
        idsync holds them all and waits: review what would go, then approve it or fix the source.
      </p>
      <ErrorBox error={connectors.error} />
      {held.length > 0 && allows(props.role, 'operator') && !planData && (
        <p>
          <button type="button" class="secondary" onClick={() => plan.go()} disabled={plan.busy}>
            {plan.busy ? 'Computing the plan…' : 'List what is held (computes a plan, exports nothing)'}
          </button>
        </p>
      )}
      <Loading loading={connectors.loading && !connectors.data}>
        {held.length === 0 ? (
          <Empty>No connector holds deletions.</Empty>
        ) : (
          held.map((c) => (
            <HeldConnector
              key={c.name}
              connector={c}
              items={heldOf(planData, c.name)}
              planError={plan.error}
              operator={allows(props.role, 'operator')}
              onApproved={reload}
            />
          ))
        )}
      </Loading>
    </>
  );
}

/** The changes the plan holds for a connector (plan --json: its target's changes marked held). */
function heldOf(plan: PlanView | undefined, connector: string): PlanChange[] {
  if (!plan) return [];
  const fromTargets = (plan.targets?.[connector]?.changes ?? []).filter((ch) => ch.held);
  const fromList = (plan.held ?? []).filter((h) => !h.connector || h.connector === connector);
  return [...fromTargets, ...fromList];
}

function HeldConnector(props: {
  connector: Connector;
  items: PlanChange[];
  planError: import('../api').ApiError | undefined;
  operator: boolean;
  onApproved: () => void;
}) {
  const c = props.connector;
  const total = heldCount(c);
  const [confirming, setConfirming] = useState(false);
  const approve = useAction(() => api('POST', `/connectors/${enc(c.name)}/approve`, {}));
  return (
    <section class="card hold" aria-labelledby={`hold-${c.name}`} data-connector={c.name}>
      <h2 id={`hold-${c.name}`}>
        <Link href={`/connectors/${enc(c.name)}`}>{c.name}</Link>: {num(total)} held
      </h2>
      {holdsOf(c).map((h) => (
        <div key={h.phase ?? 'hold'}>
          {h.message && <p>{h.message}</p>}
          <dl class="facts">
            {h.phase && (
              <div>
                <dt>Phase</dt>
                <dd>{h.phase}</dd>
              </div>
            )}
            <div>
              <dt>Held</dt>
              <dd>{num(h.count)}</dd>
            </div>
            <div>
              <dt>Allowed</dt>
              <dd>{num(h.limit)}</dd>
            </div>
            <div>
              <dt>Of</dt>
              <dd>{num(h.population)} objects</dd>
            </div>
            {h.threshold && (
              <div>
                <dt>Threshold</dt>
                <dd>{h.threshold}</dd>
              </div>
            )}
          </dl>
        </div>
      ))}
      <ErrorBox error={props.planError} title="The held changes could not be listed" />
      {props.items.length > 0 && (
        <div class="table-wrap">
          <table>
            <caption>What would be deleted or disabled</caption>
            <thead>
              <tr>
                <th scope="col">Object</th>
                <th scope="col">Change</th>
              </tr>
            </thead>
            <tbody>
              {props.items.map((i, n) => (
                <tr key={n}>
                  <th scope="row">{i.objectName ?? i.name ?? i.object ?? '–'}</th>
                  <td>{i.disable ? 'disable' : (i.op ?? i.action ?? 'delete')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {approve.result !== undefined ? (
        <p class="alert alert-good" role="status">
          Approved: the next run of {c.name} lets the {num(total)} changes through.
        </p>
      ) : (
        props.operator &&
        (confirming ? (
          <fieldset class="confirm">
            <legend>
              Let {num(total)} deletions and disables of {c.name} through?
            </legend>
            <button
              type="button"
              class="danger"
              disabled={approve.busy}
              onClick={() => approve.go().then((r) => r !== undefined && props.onApproved())}
            >
              Yes, approve {num(total)}
            </button>{' '}
            <button type="button" class="secondary" onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </fieldset>
        ) : (
          <button type="button" onClick={() => setConfirming(true)}>
            Approve…
          </button>
        ))
      )}
      <ErrorBox error={approve.error} />
    </section>
  );
}
