/** `idsync init`: a commented sample config and sample HR data, ready to run. */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IdsyncError } from '../core/errors.js';
import { GROUPS_HEADER, groupRow, PEOPLE_HEADER, personRow, sampleGroups, samplePeople } from '../samples/people.js';

export const SAMPLE_PEOPLE = 200;

export const SAMPLE_CONFIG = `# idsync configuration. Reference: docs/configuration.md; rules language: docs/expressions.md.
# Check it with \`idsync validate\`; see what a run would change with \`idsync plan\`.
version: 1

state:
  path: .idsync            # the state database and the built-in directory live here

staging: false             # true: run everything but export nothing (every run is a plan)

schedule:
  interval: 30m            # \`idsync run\` without --once runs a cycle this often

safety:
  # More deletes and disables than this in one run, per connector, stop and wait for \`idsync approve NAME\`.
  # A count (500), a percentage of the connector's objects ("10%"), or both: the lower of the two applies.
  deleteThreshold: { count: 500, percent: 10 }

log:
  retentionDays: 30        # the provisioning log keeps this many days (\`idsync log\`)

connectors:
  hr:                      # the HR feed: one row per person
    type: csv
    path: data/hr.csv
    objectType: person
    anchor: employeeId     # immutable id of a row; never a name or an email, which change
    references:
      managerId: true      # holds another row's employeeId
    types:
      hireDate: date
  hr-groups:               # groups from HR: members listed by employeeId
    type: csv
    path: data/groups.csv
    objectType: group
    anchor: groupId
    multiValued:
      members: ";"
    references:
      members: true
  directory:               # idsync's own directory (served over SCIM by \`idsync serve\`)
    type: builtin

rules:
  # Inbound: HR rows become metaverse people.
  - name: hr-people
    connector: hr
    direction: inbound
    objectType: person
    metaverseType: person
    join:
      - [{ source: employeeId, metaverse: employeeId }]
    project: true          # a row that matches nobody becomes a new person
    precedence: 10         # lower wins when several sources set the same attribute
    flows:
      - { target: employeeId, source: employeeId }
      - { target: givenName, source: firstName }
      - { target: familyName, source: lastName }
      - { target: displayName, expression: 'Join(" ", [firstName], [lastName])' }
      - { target: email, expression: 'ToLower([email])' }
      - { target: department, source: department }
      - { target: title, source: title }
      - { target: manager, source: managerId }
      - { target: status, source: status }

  - name: hr-groups
    connector: hr-groups
    direction: inbound
    objectType: group
    metaverseType: group
    join:
      - [{ source: groupId, metaverse: groupId }]
    project: true
    flows:
      - { target: groupId, source: groupId }
      - { target: displayName, source: name }
      - { target: members, source: members, referencesIn: hr }   # members are rows of the hr feed

  # Outbound: people and groups into the built-in directory.
  - name: directory-users
    connector: directory
    direction: outbound
    metaverseType: person
    objectType: user
    scope:
      - [{ attribute: status, operator: NOT EQUALS, value: terminated }]
    join:
      - [{ target: userName }]   # an existing user with the same userName is linked, not duplicated
    provision: true
    deprovision: disable   # leaving HR, or terminated: the account is disabled (active = false)
    flows:
      - { target: userName, source: email }
      - { target: externalId, source: employeeId }
      - { target: employeeNumber, source: employeeId }
      - { target: givenName, source: givenName }
      - { target: familyName, source: familyName }
      - { target: displayName, source: displayName }
      - { target: email, source: email }
      - { target: department, source: department }
      - { target: title, source: title }
      - { target: manager, source: manager }
      - { target: active, constant: true }

  - name: directory-groups
    connector: directory
    direction: outbound
    metaverseType: group
    objectType: group
    join:
      - [{ target: externalId }]
    provision: true
    deprovision: delete
    flows:
      - { target: displayName, source: displayName }
      - { target: externalId, source: groupId }
      - { target: members, source: members }
`;

export async function writeSample(dir: string, people = SAMPLE_PEOPLE): Promise<string[]> {
  const configPath = join(dir, 'idsync.yaml');
  if (existsSync(configPath)) {
    throw new IdsyncError('INIT_EXISTS', `${configPath} already exists; init writes only into a folder without one`);
  }
  await mkdir(join(dir, 'data'), { recursive: true });
  await writeFile(configPath, SAMPLE_CONFIG);
  const rows = [PEOPLE_HEADER];
  for (const p of samplePeople(people)) rows.push(personRow(p));
  await writeFile(join(dir, 'data', 'hr.csv'), `${rows.join('\n')}\n`);
  const groups = [GROUPS_HEADER, ...sampleGroups(people, 4, 12).map(groupRow)];
  await writeFile(join(dir, 'data', 'groups.csv'), `${groups.join('\n')}\n`);
  return ['idsync.yaml', 'data/hr.csv', 'data/groups.csv'];
}

/** The shipped rule templates (templates/*.yaml beside src/ or dist/), by name. */
const TEMPLATES_DIR = fileURLToPath(new URL('../../templates/', import.meta.url));

export function templateNames(): string[] {
  return existsSync(TEMPLATES_DIR) ? readdirSync(TEMPLATES_DIR).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5)).sort() : [];
}

/** `idsync init --template NAME`: the template as idsync.yaml, to be edited (connections, tenant) before a run. */
export async function writeTemplate(dir: string, name: string): Promise<string[]> {
  const names = templateNames();
  if (!names.includes(name)) {
    throw new IdsyncError('INIT_TEMPLATE_UNKNOWN', `no template ${JSON.stringify(name)}; the templates are: ${names.join(', ')}`);
  }
  const configPath = join(dir, 'idsync.yaml');
  if (existsSync(configPath)) {
    throw new IdsyncError('INIT_EXISTS', `${configPath} already exists; init writes only into a folder without one`);
  }
  await mkdir(dir, { recursive: true });
  await writeFile(configPath, await readFile(join(TEMPLATES_DIR, `${name}.yaml`), 'utf8'));
  return ['idsync.yaml'];
}
