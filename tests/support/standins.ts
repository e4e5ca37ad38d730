// Stand-ins for the Dockerfile's base images (`node:24-trixie-slim`) made where no image
// registry is reachable: the Debian release the tag names, by debootstrap from this machine's
// configured Debian mirror, plus the Node.js line the tag names from the npm registry's binary
// package (scripts/install-node.sh) and npm. They are imported under the official names, so
// the Dockerfile builds unchanged.
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
import { REPO_ROOT } from './stackwatch.js';
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

/** A base image of the Dockerfile: an official Node.js image, `node:<major>-<Debian release>[-slim]`. */
export interface BaseImage {
  name: string;
  nodeMajor: number;
  suite: string;
}

/** The base images the Dockerfile's `FROM` lines name (stages it builds itself are skipped). */
export function baseImages(dockerfile: string): BaseImage[] {
  const out = new Map<string, BaseImage>();
  const stages = new Set<string>();
  for (const m of dockerfile.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)) {
    const name = m[1] as string;
    if (m[2]) stages.add(m[2]);
    if (stages.has(name)) continue;
    const tag = /^node:(\d+)-([a-z]+)(?:-slim)?$/.exec(name);
    if (!tag)
      throw new Error(`Dockerfile: FROM ${name} is not an official node:<major>-<debian>[-slim] image`);
    out.set(name, { name, nodeMajor: Number(tag[1]), suite: tag[2] as string });
  }
  return [...out.values()];
}

/** The `node` user (uid and gid 1000) of the official images, which the Dockerfile switches to. */
function addNodeUser(rootfs: string): void {
  appendFileSync(join(rootfs, 'etc/passwd'), 'node:x:1000:1000::/home/node:/bin/sh\n');
  appendFileSync(join(rootfs, 'etc/group'), 'node:x:1000:\n');
  mkdirSync(join(rootfs, 'home/node'), { recursive: true });
}

/**
 * Node.js where the official images keep it (/usr/local), from the binary package installed
 * by scripts/install-node.sh, with npm (this machine's: the binary package has none).
 */
function addNode(rootfs: string, nodeDir: string): void {
  const local = join(rootfs, 'usr/local');
  mkdirSync(join(local, 'bin'), { recursive: true });
  copyFileSync(join(nodeDir, 'bin/node'), join(local, 'bin/node'));
  cpSync('/usr/lib/node_modules/npm', join(local, 'lib/node_modules/npm'), { recursive: true });
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(local, 'bin/npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(local, 'bin/npx'));
  // The registry is reached here through this machine's certificate authorities.
  copyFileSync('/etc/ssl/certs/ca-certificates.crt', join(rootfs, 'etc/ssl/certs/ca-certificates.crt'));
  mkdirSync(join(local, 'etc'), { recursive: true });
  writeFileSync(join(local, 'etc/npmrc'), 'cafile=/etc/ssl/certs/ca-certificates.crt\n');
}

/** The newest Node.js of a line, installed by the project's script; the directory with bin/node. */
export async function nodeBinary(major: number): Promise<string> {
  return (await sh('bash', [join(REPO_ROOT, 'scripts', 'install-node.sh'), String(major)])).trim();
}

/**
 * The root filesystem of `image` as a tarball in the cache, made when missing: debootstrap
 * (minbase) of its Debian release, its Node.js line, npm and the `node` user.
 */
export async function standinTarball(image: BaseImage): Promise<string> {
  const mirror = debianMirror();
  const nodeDir = await nodeBinary(image.nodeMajor);
  const version = (await sh(join(nodeDir, 'bin/node'), ['--version'])).trim();
  const out = join(STANDIN_CACHE, `${image.suite}-node${version}-v3.tar`);
  if (existsSync(out)) return out;
  mkdirSync(STANDIN_CACHE, { recursive: true });
  const work = join(STANDIN_CACHE, `work-${process.pid}`);
  const rootfs = join(work, 'rootfs');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    await sh('debootstrap', [
      '--variant=minbase',
      '--include=ca-certificates',
      image.suite,
      rootfs,
      mirror.uri,
    ]);
    addNodeUser(rootfs);
    addNode(rootfs, nodeDir);
    // Without the downloaded packages debootstrap leaves behind, as the official images.
    const lean = ['--exclude=./var/cache/apt/archives/*.deb', '--exclude=./var/lib/apt/lists/*_Packages'];
    await sh('tar', ['-C', rootfs, ...lean, '-cf', `${out}.tmp`, '.']);
    renameSync(`${out}.tmp`, out);
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(`${out}.tmp`, { force: true });
  }
}

/** Imports a stand-in for each of the Dockerfile's base images into `engine`, under its name. */
export async function importStandins(engine: DockerEngine): Promise<BaseImage[]> {
  const images = baseImages(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
  const changes = [
    '--change',
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    '--change',
    'CMD ["node"]',
  ];
  for (const image of images)
    await engine.docker(['import', ...changes, await standinTarball(image), image.name]);
  return images;
}
