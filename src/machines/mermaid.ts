import type { AnyStateMachine, AnyStateNode } from 'xstate';

/**
 * A Mermaid `stateDiagram-v2` of an XState v5 machine, straight from its definition: every state, the
 * initial ones, every transition labelled with its event (a named delay as `after <name>`, an invoked
 * service's result as `done <src>` / `error <src>`), guard in `[...]` and actions after `/`, and the
 * invoked services, tags, entry/exit actions and targetless transitions of each state as its
 * description (a note beside a compound state, which Mermaid does not let have one). No maintained v5
 * generator exists, so the project keeps this one small and tests that the committed diagram matches
 * the machine. The output depends only on the definition, so it is stable from run to run.
 */
export function toMermaid(machine: AnyStateMachine): string {
  const chart: Chart = { edges: new Map(), notes: new Map() };
  for (const node of descendants(machine.root)) collect(node, chart);
  collectRootEdges(machine.root, chart);
  const lines: string[] = ['stateDiagram-v2'];
  writeChildren(machine.root, chart, lines, '  ');
  return `${lines.join('\n')}\n`;
}

interface Chart {
  /** Edge lines, filed under the state whose block draws them. */
  edges: Map<AnyStateNode, string[]>;
  /** Description lines of each state. */
  notes: Map<AnyStateNode, string[]>;
}

function push(map: Map<AnyStateNode, string[]>, key: AnyStateNode, line: string): void {
  const list = map.get(key);
  if (list) list.push(line);
  else map.set(key, [line]);
}

function descendants(node: AnyStateNode): AnyStateNode[] {
  return (Object.values(node.states) as AnyStateNode[]).flatMap((child) => [child, ...descendants(child)]);
}

function writeChildren(node: AnyStateNode, chart: Chart, lines: string[], indent: string): void {
  const children = Object.values(node.states) as AnyStateNode[];
  const initial = node.initial?.target?.[0] as AnyStateNode | undefined;
  if (initial) lines.push(`${indent}[*] --> ${idOf(initial)}`);
  // A parallel state's regions are Mermaid's concurrent sections, separated by `--`.
  children.forEach((child, i) => {
    if (i > 0 && node.type === 'parallel') lines.push(`${indent}--`);
    writeState(child, chart, lines, indent);
  });
  // Edges go in the block of the deepest state containing both ends, after both are declared:
  // Mermaid would otherwise create a second, empty state where a target is first mentioned.
  for (const edge of chart.edges.get(node) ?? []) lines.push(`${indent}${edge}`);
}

function writeState(node: AnyStateNode, chart: Chart, lines: string[], indent: string): void {
  const id = idOf(node);
  const compound = Object.keys(node.states).length > 0;
  if (compound) {
    lines.push(`${indent}state "${node.key}" as ${id} {`);
    writeChildren(node, chart, lines, `${indent}  `);
    lines.push(`${indent}}`);
  } else {
    lines.push(`${indent}state "${node.key}" as ${id}`);
  }
  if (node.type === 'final') lines.push(`${indent}${id} --> [*]`);
  const notes = chart.notes.get(node) ?? [];
  if (notes.length === 0) return;
  if (compound) {
    lines.push(`${indent}note right of ${id}`);
    for (const note of notes) lines.push(`${indent}  ${note}`);
    lines.push(`${indent}end note`);
  } else {
    for (const note of notes) lines.push(`${indent}${id} : ${note}`);
  }
}

/** Files `node`'s description and each of its transitions under the state whose block will draw it. */
function collect(node: AnyStateNode, chart: Chart): void {
  for (const tag of node.tags) push(chart.notes, node, `tag ${tag}`);
  for (const invoke of node.invoke) push(chart.notes, node, `invoke ${srcOf(invoke.src)}`);
  for (const action of actionNames(node.entry)) push(chart.notes, node, `entry / ${action}`);
  for (const action of actionNames(node.exit)) push(chart.notes, node, `exit / ${action}`);
  const all = [...node.transitions.values()].flat();
  if (node.always) all.push(...node.always);
  for (const transition of all) {
    const label = labelOf(node, transition);
    const targets = (transition.target ?? []) as AnyStateNode[];
    // A transition without a target runs its actions in place: part of the state's description.
    if (targets.length === 0) push(chart.notes, node, `on ${label}`);
    for (const target of targets) {
      const reenter = target === node && transition.reenter ? ' (reenter)' : '';
      // Mermaid cannot draw an edge between states inside different compound states (it pulls them
      // out of their boxes), so such an edge is drawn between the boxes, naming the inner ends.
      const container = commonContainer(node, target);
      const from = childOf(container, node);
      const to = childOf(container, target);
      const prefix = from === node ? '' : `(${node.key}) `;
      const suffix = to === target ? '' : ` (to ${target.key})`;
      push(chart.edges, container, `${idOf(from)} --> ${idOf(to)} : ${prefix}${label}${reenter}${suffix}`);
    }
  }
}

/**
 * The root has no box to draw from: its transitions ("from any state") become one edge from each
 * top-level state that is not the target.
 */
function collectRootEdges(root: AnyStateNode, chart: Chart): void {
  for (const transition of [...root.transitions.values()].flat()) {
    const label = labelOf(root, transition);
    for (const target of (transition.target ?? []) as AnyStateNode[]) {
      for (const source of Object.values(root.states) as AnyStateNode[]) {
        if (source !== target) push(chart.edges, root, `${idOf(source)} --> ${idOf(target)} : ${label}`);
      }
    }
  }
}

/** The deepest state whose children include (an ancestor of) both `a` and `b`. */
function commonContainer(a: AnyStateNode, b: AnyStateNode): AnyStateNode {
  const ancestorsOfB = new Set<AnyStateNode>();
  for (let n = b.parent; n; n = n.parent) ancestorsOfB.add(n);
  for (let n = a.parent; n; n = n.parent) if (ancestorsOfB.has(n)) return n;
  return a.machine.root;
}

/** The ancestor-or-self of `node` that is a child of `container`. */
function childOf(container: AnyStateNode, node: AnyStateNode): AnyStateNode {
  let n = node;
  while (n.parent && n.parent !== container) n = n.parent;
  return n;
}

interface TransitionLike {
  eventType: string;
  guard?: unknown;
  actions: readonly unknown[];
}

function labelOf(node: AnyStateNode, transition: TransitionLike): string {
  let label = eventLabel(node, transition.eventType);
  const guard = nameOf(transition.guard);
  if (guard) label += ` [${guard}]`;
  const actions = actionNames(transition.actions);
  if (actions.length > 0) label += ` / ${actions.join(', ')}`;
  // Mermaid reads ':' and ';' in a label as syntax, and '{' '}' as a block.
  return label.replace(/[:;{}]/g, ' ');
}

function eventLabel(node: AnyStateNode, eventType: string): string {
  if (eventType === '') return 'always';
  if (eventType.startsWith('xstate.after.')) {
    const delay = delayOf(eventType);
    return /^\d+$/.test(delay) ? `after ${delay} ms` : `after ${delay}`;
  }
  if (eventType.startsWith('xstate.done.actor.'))
    return `done ${invokedSrc(node, eventType.slice('xstate.done.actor.'.length))}`;
  if (eventType.startsWith('xstate.error.actor.'))
    return `error ${invokedSrc(node, eventType.slice('xstate.error.actor.'.length))}`;
  if (eventType.startsWith('xstate.done.state.')) return 'done';
  return eventType;
}

/** An invoke without an `id` gets a generated one ("0.signaling.session..."); show its `src` instead. */
function invokedSrc(node: AnyStateNode, actorId: string): string {
  for (let n: AnyStateNode | undefined = node; n; n = n.parent) {
    const invoke = n.invoke.find((i) => i.id === actorId);
    if (invoke) return srcOf(invoke.src);
  }
  return actorId;
}

function srcOf(src: unknown): string {
  return typeof src === 'string' ? src : 'inline';
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
  if (typeof value === 'function') {
    // An arrow function written in place takes its property's name ("actions", "guard"): not a name.
    const name = (value as { type?: string }).type ?? value.name;
    return name && name !== 'actions' && name !== 'guard' ? name : 'inline';
  }
  if (typeof value === 'object') {
    const { type, params } = value as { type?: unknown; params?: unknown };
    if (typeof type === 'string') return params === undefined ? type : `${type}(${paramsOf(params)})`;
  }
  return 'inline';
}

/** `{ code: 4008, reason: 'auth-timeout' }` → `4008, auth-timeout`: the values say enough. */
function paramsOf(params: unknown): string {
  if (typeof params !== 'object' || params === null)
    return typeof params === 'function' ? '…' : String(params);
  return Object.values(params)
    .map((v) => (typeof v === 'object' && v !== null ? JSON.stringify(v).replace(/"/g, "'") : String(v)))
    .join(', ');
}

function idOf(node: AnyStateNode): string {
  return node.path.length === 0 ? 'root' : node.path.join('_').replace(/[^A-Za-z0-9_]/g, '_');
}
