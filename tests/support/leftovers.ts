// vitest globalSetup: marks every process the suite starts (through the inherited environment)
// and, when the run ends, fails it if any such process is still running.
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const MARKER = 'STACKWATCH_TEST_RUN';
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

interface Leftover {
  pid: number;
  cmdline: string;
}

/** Processes of this run: carrying its marker, or the README's `npm start` (environment of PATH and HOME only). */
function leftovers(run: string): Leftover[] {
  const out: Leftover[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
      // The runner and its worker processes, which end with it.
      if (cmdline.includes('vitest') || cmdline.includes('tinypool/dist/entry')) continue;
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      const marked = environ.includes(`${MARKER}=${run}`);
      const readmeRun = readlinkSync(`/proc/${pid}/cwd`) === REPO_ROOT && cmdline.includes('dist/cli.js');
      if (marked || readmeRun) out.push({ pid, cmdline });
    } catch {
      // gone while we looked, or not ours to read
    }
  }
  return out;
}

export default function setup(): () => void {
  const run = randomUUID();
  process.env[MARKER] = run;
  return () => {
    const left = leftovers(run);
    if (left.length)
      throw new Error(
        `processes started by the suite are still running:\n${left.map((l) => `  ${l.pid} ${l.cmdline}`).join('\n')}`,
      );
  };
}
