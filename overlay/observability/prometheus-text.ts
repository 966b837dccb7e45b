// A strict reader of the Prometheus text exposition format (0.0.4), used by the tests to check that
// /metrics is well formed: every sample belongs to a family declared by # HELP and # TYPE, names and
// labels are valid, values parse, histograms are cumulative and end with +Inf = _count.
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const SUFFIXES: Record<MetricFamily['type'], string[]> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const helps = new Map<string, string>();
  if (text !== '' && !text.endsWith('\n')) throw new Error('exposition must end with a newline');
  text.split('\n').forEach((line, index) => {
    const where = `line ${index + 1}`;
    if (line === '') return;
    if (line.startsWith('# HELP ')) {
      const [name = '', ...rest] = line.slice(7).split(' ');
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name in HELP: ${name}`);
      if (helps.has(name)) throw new Error(`${where}: second HELP for ${name}`);
      helps.set(name, rest.join(' '));
      return;
    }
    if (line.startsWith('# TYPE ')) {
      const [name = '', type = ''] = line.slice(7).split(' ');
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name in TYPE: ${name}`);
      if (!(type in SUFFIXES)) throw new Error(`${where}: unknown type ${type}`);
      if (families.has(name)) throw new Error(`${where}: second TYPE for ${name}`);
      families.set(name, { name, help: helps.get(name) ?? '', type: type as MetricFamily['type'], samples: [] });
      return;
    }
    if (line.startsWith('#')) return;
    const sample = parseSample(line, where);
    const family = familyOf(families, sample.name);
    if (!family) throw new Error(`${where}: sample ${sample.name} has no # TYPE before it`);
    family.samples.push(sample);
  });
  for (const family of families.values()) {
    if (!helps.has(family.name)) throw new Error(`${family.name} has no # HELP`);
    if (family.type === 'histogram') checkHistogram(family);
  }
  return families;
}

function familyOf(families: Map<string, MetricFamily>, sampleName: string): MetricFamily | undefined {
  for (const family of families.values()) {
    if (SUFFIXES[family.type].some((suffix) => family.name + suffix === sampleName)) return family;
  }
  return undefined;
}

function parseSample(line: string, where: string): Sample {
  const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
  if (!match) throw new Error(`${where}: not a sample line: ${line}`);
  const [, name = '', , labelText, valueText = ''] = match;
  return { name, labels: labelText === undefined ? {} : parseLabels(labelText, where), value: parseValue(valueText, where) };
}

function parseLabels(text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest !== '') {
    const match = /^([^=]+)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/.exec(rest);
    if (!match) throw new Error(`${where}: bad labels: {${text}}`);
    const [whole, name = '', raw = ''] = match;
    if (!LABEL.test(name)) throw new Error(`${where}: bad label name ${name}`);
    if (name in labels) throw new Error(`${where}: label ${name} given twice`);
    labels[name] = raw.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
    rest = rest.slice(whole.length);
  }
  return labels;
}

function parseValue(text: string, where: string): number {
  // As Prometheus itself (Go's ParseFloat) reads them: case does not matter; prom-client writes "Nan".
  if (/^\+?inf$/i.test(text)) return Infinity;
  if (/^-inf$/i.test(text)) return -Infinity;
  if (/^nan$/i.test(text)) return NaN;
  if (!/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: bad value ${text}`);
  return Number(text);
}

function checkHistogram(family: MetricFamily): void {
  const groups = new Map<string, Sample[]>();
  for (const s of family.samples) {
    const key = JSON.stringify(Object.entries(s.labels).filter(([name]) => name !== 'le'));
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  for (const [key, samples] of groups) {
    const buckets = samples.filter((s) => s.name.endsWith('_bucket'));
    const count = samples.find((s) => s.name === `${family.name}_count`);
    if (!samples.some((s) => s.name === `${family.name}_sum`) || count === undefined) {
      throw new Error(`${family.name}${key}: histogram without _sum or _count`);
    }
    let previous = -Infinity;
    let last = 0;
    for (const bucket of buckets) {
      const le = parseValue(bucket.labels['le'] ?? 'x', family.name);
      if (!(le > previous)) throw new Error(`${family.name}${key}: buckets not in increasing le order`);
      if (bucket.value < last) throw new Error(`${family.name}${key}: bucket counts decrease`);
      previous = le;
      last = bucket.value;
    }
    if (previous !== Infinity || last !== count.value) throw new Error(`${family.name}${key}: +Inf bucket missing or != _count`);
  }
}

/** The value of one sample, by name and exact labels. */
export function sampleValue(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const family of families.values()) {
    const sample = family.samples.find((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels));
    if (sample) return sample.value;
  }
  return undefined;
}
