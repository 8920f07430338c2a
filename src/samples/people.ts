/**
 * Deterministic sample people and groups: the data `idsync init` and `idsync demo` write, and what the
 * benchmarks and tests generate at larger sizes. A seeded generator, so the same size gives the same files.
 */

const FIRST = ['Ada', 'Alan', 'Amara', 'Anika', 'Bruno', 'Chen', 'Chloé', 'Dmitri', 'Elena', 'Emeka', 'Farah', 'Grace', 'Hiro', 'Ines', 'Jonas', 'Kalani', 'Lars', 'Leila', 'Mateo', 'Mei', 'Nadia', 'Omar', 'Priya', 'Quentin', 'Rosa', 'Sami', 'Søren', 'Tariq', 'Uma', 'Viktor', 'Wen', 'Yara', 'Zoë'];
const LAST = ['Abara', 'Bianchi', 'Costa', 'Dubois', 'Eriksen', 'Fischer', 'García', 'Haddad', 'Ito', 'Jensen', 'Kowalski', 'Larsen', 'Müller', 'Nakamura', "O'Brien", 'Petrov', 'Quispe', 'Rossi', 'Silva', 'Tanaka', 'Ueda', 'Varga', 'Weber', 'Xu', 'Yilmaz', 'Zhang'];
const DEPARTMENTS = ['Engineering', 'Finance', 'Human Resources', 'Legal', 'Marketing', 'Operations', 'Sales', 'Support'];
const TITLES = ['Analyst', 'Engineer', 'Specialist', 'Coordinator', 'Consultant', 'Associate'];

export interface SamplePerson {
  employeeId: string;
  firstName: string;
  lastName: string;
  email: string;
  department: string;
  title: string;
  managerId: string;
  status: 'active' | 'terminated';
  hireDate: string;
}

export interface SampleGroup {
  groupId: string;
  name: string;
  members: string[];
}

/** A small, fast, seeded PRNG (mulberry32): reproducible data without a dependency. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function employeeId(i: number): string {
  return `E${String(100000 + i)}`;
}

export function* samplePeople(count: number, seed = 1): Generator<SamplePerson> {
  const rnd = seeded(seed);
  const pick = <T>(list: T[]) => list[Math.floor(rnd() * list.length)]!;
  for (let i = 0; i < count; i++) {
    const firstName = pick(FIRST);
    const lastName = pick(LAST);
    const department = DEPARTMENTS[i % DEPARTMENTS.length]!;
    // The first person of each department manages it; the others report to them.
    const managerIndex = i < DEPARTMENTS.length ? -1 : i % DEPARTMENTS.length;
    const local = `${ascii(firstName)}.${ascii(lastName)}.${i}`.toLowerCase();
    yield {
      employeeId: employeeId(i),
      firstName,
      lastName,
      email: `${local}@example.com`,
      department,
      title: i < DEPARTMENTS.length ? 'Head of Department' : pick(TITLES),
      managerId: managerIndex >= 0 ? employeeId(managerIndex) : '',
      status: 'active',
      hireDate: new Date(Date.UTC(2010 + Math.floor(rnd() * 15), Math.floor(rnd() * 12), 1 + Math.floor(rnd() * 28))).toISOString().slice(0, 10),
    };
  }
}

/** Department groups plus `extra` project groups of `size` members each. */
export function sampleGroups(people: number, extra: number, size: number, seed = 2): SampleGroup[] {
  const rnd = seeded(seed);
  const groups: SampleGroup[] = DEPARTMENTS.map((name, d) => ({
    groupId: `G${String(d + 1).padStart(4, '0')}`,
    name,
    members: people > 0 ? range(people).filter((i) => i % DEPARTMENTS.length === d).slice(0, 1000).map(employeeId) : [],
  }));
  for (let g = 0; g < extra; g++) {
    const members = new Set<string>();
    while (members.size < Math.min(size, people)) members.add(employeeId(Math.floor(rnd() * people)));
    groups.push({ groupId: `G${String(DEPARTMENTS.length + g + 1).padStart(4, '0')}`, name: `Project ${g + 1}`, members: [...members] });
  }
  return groups;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function ascii(s: string): string {
  return s.normalize('NFD').replace(/[^A-Za-z]/g, '');
}

export const PEOPLE_HEADER = 'employeeId,firstName,lastName,email,department,title,managerId,status,hireDate';

export function personRow(p: SamplePerson): string {
  return [p.employeeId, p.firstName, p.lastName, p.email, p.department, p.title, p.managerId, p.status, p.hireDate].map(csvCell).join(',');
}

export const GROUPS_HEADER = 'groupId,name,members';

export function groupRow(g: SampleGroup): string {
  return [g.groupId, g.name, g.members.join(';')].map(csvCell).join(',');
}

export function csvCell(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}
