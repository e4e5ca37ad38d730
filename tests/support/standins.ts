// Stand-ins for the Dockerfile's base images (`node:20-bookworm`, `node:20-bookworm-slim`)
// made where no image registry is reachable: a Debian bookworm root filesystem by
// debootstrap from this machine's configured Debian mirror, plus this machine's Node.js.
// They are imported under the official names, so the Dockerfile builds unchanged.
import {
  appendFileSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { DockerEngine } from './docker.js';
import { run } from './util.js';

/** Kept between runs, so a CI run on the same machine does not debootstrap again. */
export const STANDIN_CACHE = process.env.STACKWATCH_TEST_CACHE ?? '/var/cache/stackwatch-test';

export interface AptSource {
  uri: string;
  suite: string;
}

/**
 * The first Debian `main` source of an apt configuration: deb822 (`*.sources`) or one-line
 * (`sources.list`) text. Pure, so it is tested on captured files.
 */
export function parseAptSource(text: string): AptSource | undefined {
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim();
    const uri = field('URIs')?.split(/\s+/)[0];
    const suite = field('Suites')?.split(/\s+/)[0];
    if (uri && suite && /\bdeb\b/.test(field('Types') ?? '') && !/security/.test(uri)) return { uri, suite };
  }
  for (const line of text.split('\n')) {
    const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+.*\bmain\b/.exec(line.trim());
    if (m && !/security/.test(m[1] as string)) return { uri: m[1] as string, suite: m[2] as string };
  }
  return undefined;
}

/** This machine's Debian mirror, from /etc/apt/sources.list and sources.list.d. */
export function debianMirror(): AptSource {
  const files = ['/etc/apt/sources.list', '/etc/apt/sources.list.d/debian.sources'];
  for (const f of files) {
    if (!existsSync(f)) continue;
    const source = parseAptSource(readFileSync(f, 'utf8'));
    if (source) return source;
  }
  throw new Error(`no Debian main source in ${files.join(' or ')}`);
}

async function sh(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.code}\n${r.stderr.slice(-4000)}`);
  return r.stdout;
}

/** The `node` user (uid and gid 1000) of the official images, which the Dockerfile switches to. */
function addNodeUser(rootfs: string): void {
  appendFileSync(join(rootfs, 'etc/passwd'), 'node:x:1000:1000::/home/node:/bin/sh\n');
  appendFileSync(join(rootfs, 'etc/group'), 'node:x:1000:\n');
  mkdirSync(join(rootfs, 'home/node'), { recursive: true });
}

/** This machine's Node.js binary; for the build image also npm and the headers node-gyp compiles against. */
function addNode(rootfs: string, opts: { forBuilding: boolean }): void {
  copyFileSync('/usr/bin/node', join(rootfs, 'usr/bin/node'));
  if (!opts.forBuilding) return;
  cpSync('/usr/include/node', join(rootfs, 'usr/include/node'), { recursive: true });
  cpSync('/usr/lib/node_modules/npm', join(rootfs, 'usr/lib/node_modules/npm'), { recursive: true });
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(rootfs, 'usr/bin/npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(rootfs, 'usr/bin/npx'));
  // The registry is reached here through this machine's certificate authorities; node-gyp
  // finds the headers in /usr instead of downloading them.
  copyFileSync('/etc/ssl/certs/ca-certificates.crt', join(rootfs, 'etc/ssl/certs/ca-certificates.crt'));
  mkdirSync(join(rootfs, 'usr/etc'), { recursive: true });
  writeFileSync(join(rootfs, 'usr/etc/npmrc'), 'cafile=/etc/ssl/certs/ca-certificates.crt\nnodedir=/usr\n');
}

export interface StandinTarballs {
  slim: string;
  build: string;
}

/**
 * The two root filesystems as tarballs in the cache, made when missing: one debootstrap
 * (minbase), the runtime tarball, then compilers added with apt in a chroot for the build one.
 */
export async function standinTarballs(): Promise<StandinTarballs> {
  const mirror = debianMirror();
  const node = process.version;
  const key = `${mirror.suite}-node${node}-v2`;
  const out = {
    slim: join(STANDIN_CACHE, `${key}-slim.tar`),
    build: join(STANDIN_CACHE, `${key}-build.tar`),
  };
  if (existsSync(out.slim) && existsSync(out.build)) return out;
  mkdirSync(STANDIN_CACHE, { recursive: true });
  const work = join(STANDIN_CACHE, `work-${process.pid}`);
  const rootfs = join(work, 'rootfs');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    await sh('debootstrap', [
      '--variant=minbase',
      '--include=ca-certificates',
      mirror.suite,
      rootfs,
      mirror.uri,
    ]);
    addNodeUser(rootfs);
    addNode(rootfs, { forBuilding: false });
    // Without the downloaded packages debootstrap leaves behind, as the official images.
    const lean = ['--exclude=./var/cache/apt/archives/*.deb', '--exclude=./var/lib/apt/lists/*_Packages'];
    await sh('tar', ['-C', rootfs, ...lean, '-cf', `${out.slim}.tmp`, '.']);
    copyFileSync('/etc/resolv.conf', join(rootfs, 'etc/resolv.conf'));
    await sh('chroot', [
      rootfs,
      'apt-get',
      'install',
      '-y',
      '-qq',
      '--no-install-recommends',
      'python3',
      'make',
      'g++',
    ]);
    await sh('chroot', [rootfs, 'apt-get', 'clean']);
    rmSync(join(rootfs, 'etc/resolv.conf'));
    addNode(rootfs, { forBuilding: true });
    await sh('tar', ['-C', rootfs, ...lean, '-cf', `${out.build}.tmp`, '.']);
    renameSync(`${out.slim}.tmp`, out.slim);
    renameSync(`${out.build}.tmp`, out.build);
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
    for (const f of [out.slim, out.build]) rmSync(`${f}.tmp`, { force: true });
  }
}

/** Imports the stand-ins into `engine` under the Dockerfile's base image names. */
export async function importStandins(engine: DockerEngine): Promise<void> {
  const tarballs = await standinTarballs();
  const changes = [
    '--change',
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    '--change',
    'CMD ["node"]',
  ];
  await engine.docker(['import', ...changes, tarballs.build, 'node:20-bookworm']);
  await engine.docker(['import', ...changes, tarballs.slim, 'node:20-bookworm-slim']);
}
