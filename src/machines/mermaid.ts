import type { AnyStateMachine, AnyStateNode } from 'xstate';

/**
 * A Mermaid `stateDiagram-v2` of an XState v5 machine, straight from its definition: every state, the
 * initial ones, every transition labelled with its event (or named delay), guard and actions, the
 * invoked services and tags of each state. No maintained v5 generator exists, so the project keeps this
 * one small and tests that the committed diagram matches the machine.
 */
export function toMermaid(machine: AnyStateMachine): string {
  const lines: string[] = ['stateDiagram-v2'];
  writeChildren(machine.root, lines, '  ');
  return `${lines.join('\n')}\n`;
}

function writeChildren(node: AnyStateNode, lines: string[], indent: string): void {
  const children = Object.values(node.states) as AnyStateNode[];
  const initial = node.initial?.target?.[0] as AnyStateNode | undefined;
  if (initial) lines.push(`${indent}[*] --> ${idOf(initial)}`);
  for (const child of children) writeState(child, lines, indent);
  for (const child of children) writeTransitions(child, lines, indent);
}

function writeState(node: AnyStateNode, lines: string[], indent: string): void {
  const id = idOf(node);
  const children = Object.keys(node.states);
  if (children.length > 0) {
    lines.push(`${indent}state "${node.key}" as ${id} {`);
    writeChildren(node, lines, `${indent}  `);
    lines.push(`${indent}}`);
  } else {
    lines.push(`${indent}state "${node.key}" as ${id}`);
  }
  if (node.type === 'final') lines.push(`${indent}${id} --> [*]`);
  for (const tag of node.tags) lines.push(`${indent}${id} : tag ${tag}`);
  for (const invoke of node.invoke) lines.push(`${indent}${id} : invoke ${invoke.src}`);
  for (const action of actionNames(node.entry)) lines.push(`${indent}${id} : entry / ${action}`);
  for (const action of actionNames(node.exit)) lines.push(`${indent}${id} : exit / ${action}`);
}

function writeTransitions(node: AnyStateNode, lines: string[], indent: string): void {
  const id = idOf(node);
  const all = [...node.transitions.values()].flat();
  if (node.always) all.push(...node.always);
  for (const transition of all) {
    const label = labelOf(transition);
    const targets = (transition.target ?? []) as AnyStateNode[];
    if (targets.length === 0) {
      lines.push(`${indent}${id} : on ${label}`);
      continue;
    }
    for (const target of targets) {
      const reenter = target === node && transition.reenter ? ' (reenter)' : '';
      lines.push(`${indent}${id} --> ${idOf(target)} : ${label}${reenter}`);
    }
  }
}

function labelOf(transition: { eventType: string; guard?: unknown; actions: readonly unknown[] }): string {
  let label = eventLabel(transition.eventType);
  const guard = nameOf(transition.guard);
  if (guard) label += ` [${guard}]`;
  const actions = actionNames(transition.actions);
  if (actions.length > 0) label += ` / ${actions.join(', ')}`;
  // Mermaid reads ':' and ';' in a label as syntax.
  return label.replace(/[:;]/g, ' ');
}

function eventLabel(eventType: string): string {
  if (eventType === '') return 'always';
  if (eventType.startsWith('xstate.after.')) return `after ${delayOf(eventType)}`;
  if (eventType.startsWith('xstate.done.actor.'))
    return `done ${eventType.slice('xstate.done.actor.'.length)}`;
  if (eventType.startsWith('xstate.error.actor.'))
    return `error ${eventType.slice('xstate.error.actor.'.length)}`;
  if (eventType.startsWith('xstate.done.state.')) return 'done';
  return eventType;
}

// "xstate.after.<delay>.<state id>": the delay is a name (or a number) without dots.
function delayOf(eventType: string): string {
  const rest = eventType.slice('xstate.after.'.length);
  return rest.slice(0, rest.indexOf('.'));
}

function actionNames(actions: readonly unknown[]): string[] {
  const names: string[] = [];
  for (const action of actions) {
    const name = nameOf(action);
    // Delays install raise/cancel actions of their own; they are drawn as the `after` edges instead.
    if (name && name !== 'xstate.raise' && name !== 'xstate.cancel') names.push(name);
  }
  return names;
}

function nameOf(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'function') return (value as { type?: string }).type ?? (value.name || 'inline');
  if (typeof value === 'object') {
    const { type, params } = value as { type?: unknown; params?: unknown };
    if (typeof type === 'string') return params === undefined ? type : `${type}(${paramsOf(params)})`;
  }
  return 'inline';
}

function paramsOf(params: unknown): string {
  if (typeof params === 'function') return '…';
  return JSON.stringify(params).replace(/"/g, "'");
}

function idOf(node: AnyStateNode): string {
  return node.path.length === 0 ? 'root' : node.path.join('_').replace(/[^A-Za-z0-9_]/g, '_');
}
