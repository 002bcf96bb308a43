import { describe, expect, it } from 'vitest';
import { runCli } from '../src/server/cli-commands.js';

describe('npm start (the demo)', () => {
  it('runs the whole story and exits 0: presence, acked signals, restart, reconnection by backoff', async () => {
    const out: string[] = [];
    const code = await runCli(['demo', '--inspect'], {
      stdout: (text) => out.push(text),
      stderr: (text) => out.push(text),
      env: {},
    });
    const text = out.join('');
    expect(code).toBe(0);
    for (const peer of ['A', 'B']) {
      expect(text).toMatch(new RegExp(`${peer}\\s+authenticating → connected`));
      expect(text).toMatch(
        new RegExp(`${peer}\\s+connected → reconnecting  \\(closed 1001, retry in \\d+ ms\\)`),
      );
      expect(text).toMatch(
        new RegExp(`${peer} chart .*session.authenticating.signing → session.authenticating.awaitingVerdict`),
      );
    }
    expect(text).toMatch(/A\s+sees B online/);
    // Once per session: after the restart the client's own re-subscription is the only one.
    for (const peer of ['A', 'B']) {
      const other = peer === 'A' ? 'B' : 'A';
      const seen = text.match(new RegExp(`${peer}\\s+sees ${other} online`, 'g')) ?? [];
      expect(seen.length, `${peer} sees ${other} online`).toBe(2);
    }
    expect(text).toMatch(/A\s+rtt \d+ ms, server key pinned and proven: true/);
    expect(text).toMatch(/B\s+got \{"kind":"offer","sdp":"v=0 \(round 2\)"\} from A/);
    expect(text).toMatch(/A\s+got \{"kind":"answer","sdp":"v=0 \(round 2\)"\} from B/);
    expect(text).toContain('server key pinned and proven: true');
    expect(text).toContain('done: both peers reconnected by themselves');
  }, 30_000);
});
