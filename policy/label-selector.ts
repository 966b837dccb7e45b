// Kubernetes label selectors (metav1.LabelSelector): matchLabels and matchExpressions, ANDed; an
// empty selector matches everything. Compiled once into a predicate so a policy's selectors are
// checked when the policy is read, not per pod.
import type { LabelSelector } from './api-types.js';

export type Labels = Readonly<Record<string, string>>;
export type LabelPredicate = (labels: Labels) => boolean;

/** The selector is not one Kubernetes would accept; the message names the field. */
export class SelectorError extends Error {}

export function compileSelector(selector: LabelSelector, field: string): LabelPredicate {
  const checks: LabelPredicate[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    checks.push((labels) => labels[key] === value);
  }
  (selector.matchExpressions ?? []).forEach((expr, i) => {
    checks.push(compileExpression(expr.key, expr.operator, expr.values ?? [], `${field}.matchExpressions[${i}]`));
  });
  return (labels) => checks.every((check) => check(labels));
}

function compileExpression(key: string, operator: string, values: readonly string[], field: string): LabelPredicate {
  const hasValues = values.length > 0;
  switch (operator) {
    case 'In':
      if (!hasValues) throw new SelectorError(`${field}: operator In needs values`);
      return (labels) => key in labels && values.includes(labels[key] ?? '');
    case 'NotIn':
      if (!hasValues) throw new SelectorError(`${field}: operator NotIn needs values`);
      return (labels) => !(key in labels) || !values.includes(labels[key] ?? '');
    case 'Exists':
      if (hasValues) throw new SelectorError(`${field}: operator Exists takes no values`);
      return (labels) => key in labels;
    case 'DoesNotExist':
      if (hasValues) throw new SelectorError(`${field}: operator DoesNotExist takes no values`);
      return (labels) => !(key in labels);
    default:
      throw new SelectorError(`${field}: unknown operator "${operator}" (In, NotIn, Exists or DoesNotExist)`);
  }
}
