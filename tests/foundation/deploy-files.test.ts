// The deployment files fail early and clearly: compose (checked by Debian's docker-compose),
// the Kubernetes manifests (validated against the Kubernetes API schemas of
// kubernetes-models), the Dockerfile and .dockerignore.
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonSet, StatefulSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { baseImages, parseAptSource } from '../support/standins.js';
import { REPO_ROOT } from '../support/stackwatch.js';
import { run, tempDir } from '../support/util.js';

const DEPLOY = join(REPO_ROOT, 'deploy');
const K8S = join(DEPLOY, 'kubernetes');
const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string })
  .version;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;
const readDocs = (file: string): Doc[] =>
  parseAllDocuments(readFileSync(join(K8S, file), 'utf8')).map((d) => d.toJS() as Doc);

/** The API schema of each kind the manifests use; a kind missing here fails the test. */
const MODELS: Record<string, new (data: Doc) => { validate: () => void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/StatefulSet': StatefulSet,
  'apps/v1/DaemonSet': DaemonSet,
};

describe('deploy/kubernetes', () => {
  const kustomization = parse(readFileSync(join(K8S, 'kustomization.yaml'), 'utf8')) as {
    namespace: string;
    resources: string[];
    images: { name: string; newName: string; newTag: string }[];
  };
  const files = ['namespace.yaml', 'stackwatch.yaml', 'stackwatch-node.yaml', 'secrets.example.yaml'];
  const all = files.flatMap((file) => readDocs(file).map((doc) => ({ file, doc })));

  it('every manifest validates against the Kubernetes API schema of its kind', () => {
    const problems: string[] = [];
    for (const { file, doc } of all) {
      const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
      if (!Model) {
        problems.push(`${file}: no schema for ${doc.apiVersion} ${doc.kind}`);
        continue;
      }
      try {
        new Model(doc).validate();
      } catch (err) {
        problems.push(`${file} ${doc.kind} ${doc.metadata?.name}: ${(err as Error).message}`);
      }
    }
    expect(problems).toEqual([]);
    expect(all.map((d) => d.doc.kind)).toEqual(
      expect.arrayContaining(['Namespace', 'StatefulSet', 'DaemonSet', 'Service', 'ConfigMap', 'Secret']),
    );
  });

  it('the schema check is real: a wrong pull policy or a missing selector is refused', () => {
    const sts = all.find((d) => d.doc.kind === 'StatefulSet')?.doc as Doc;
    const badPolicy = structuredClone(sts);
    badPolicy.spec.template.spec.containers[0].imagePullPolicy = 'Sometimes';
    expect(() => new StatefulSet(badPolicy).validate()).toThrow(/imagePullPolicy/);
    const noSelector = structuredClone(sts);
    delete noSelector.spec.selector;
    expect(() => new StatefulSet(noSelector).validate()).toThrow(/selector/);
  });

  it('ships the namespace every object lives in, and kustomization applies it first', () => {
    const ns = all.find((d) => d.doc.kind === 'Namespace')?.doc;
    expect(ns?.metadata.name).toBe('monitoring');
    for (const { file, doc } of all.filter((d) => d.doc.kind !== 'Namespace'))
      expect(doc.metadata.namespace, `${file} ${doc.kind}`).toBe('monitoring');
    expect(kustomization.namespace).toBe('monitoring');
    // the Secret is filled in and applied by hand, never from the repository
    expect(kustomization.resources).toEqual(['namespace.yaml', 'stackwatch.yaml', 'stackwatch-node.yaml']);
  });

  it('names a fixed image tag pulled if not present, and says where to set the registry', () => {
    const containers = all
      .filter((d) => d.doc.kind === 'StatefulSet' || d.doc.kind === 'DaemonSet')
      .flatMap((d) => d.doc.spec.template.spec.containers as Doc[]);
    expect(containers).toHaveLength(2);
    for (const c of containers) {
      expect(c.image).toBe(`stackwatch:${VERSION}`);
      expect(c.imagePullPolicy).toBe('IfNotPresent');
    }
    expect(kustomization.images).toEqual([
      { name: 'stackwatch', newName: expect.stringMatching(/\/stackwatch$/), newTag: VERSION },
    ]);
    expect(readFileSync(join(DEPLOY, 'README.md'), 'utf8')).toMatch(/docker push .*stackwatch/);
  });

  it("the StatefulSet's serviceName is a headless service that selects its pods", () => {
    const sts = all.find((d) => d.doc.kind === 'StatefulSet')?.doc as Doc;
    const svc = all.find(
      (d) => d.doc.kind === 'Service' && d.doc.metadata.name === sts.spec.serviceName,
    )?.doc;
    expect(svc?.spec.clusterIP).toBe('None');
    expect(svc?.spec.selector).toEqual(sts.spec.selector.matchLabels);
    expect(sts.spec.template.metadata.labels).toMatchObject(svc?.spec.selector);
  });
});

describe('deploy/docker-compose.yml with docker-compose config', () => {
  const tmp = tempDir('swcompose');
  // A copy, so the check never reads an operator's own deploy/.env.
  cpSync(DEPLOY, join(tmp.path, 'deploy'), { recursive: true });
  cpSync(join(REPO_ROOT, 'monitoring'), join(tmp.path, 'monitoring'), { recursive: true });
  const dir = join(tmp.path, 'deploy');
  afterAll(() => tmp.cleanup());

  /** The environment of a shell with none of the compose file's variables set. */
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmp.path };
  const compose = (args: string[]) => run('docker-compose', args, { cwd: dir, env });

  it('fails without .env, naming the missing variable and where to set it', async () => {
    const r = await compose(['config']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(
      /set (POSTGRES_PASSWORD|REDIS_PASSWORD|STACKWATCH_WEBHOOK_TOKEN) in deploy\/\.env/,
    );
  });

  it("passes with the .env the README's commands write", async () => {
    // The README's shell block, minus its final `up`.
    const readme = readFileSync(join(DEPLOY, 'README.md'), 'utf8');
    const block = /```sh\ncd deploy\n([\s\S]*?)```/.exec(readme)?.[1] as string;
    expect(block).toContain('cat > .env');
    const script = block
      .split('\n')
      .filter((l) => !/^docker(-| )compose /.test(l))
      .join('\n');
    const made = await run('bash', ['-c', script], { cwd: dir, env });
    expect(made.code, made.stderr).toBe(0);
    const r = await compose(['config']);
    expect(r.code, r.stderr).toBe(0);
    const config = parse(r.stdout) as {
      services: Record<string, { environment: Record<string, string>; volumes: string[] }>;
    };
    const dotenv = Object.fromEntries(
      readFileSync(join(dir, '.env'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    const sw = config.services.stackwatch;
    expect(sw?.environment.STACKWATCH_WEBHOOK_TOKEN).toBe(
      readFileSync(join(dir, 'secrets/stackwatch-token'), 'utf8').trim(),
    );
    expect(sw?.environment.DATABASE_URL).toBe(`postgresql://agent:${dotenv.POSTGRES_PASSWORD}@db:5432/agent`);
    expect(sw?.volumes.map(String)).toContainEqual(expect.stringMatching(/^\/:\/host:ro,rslave$/));
  });

  it('the override for hosts whose / is not shared mounts the root without propagation', async () => {
    const r = await compose(['-f', 'docker-compose.yml', '-f', 'docker-compose.private-root.yml', 'config']);
    expect(r.code, r.stderr).toBe(0);
    const volumes = (parse(r.stdout) as { services: Record<string, { volumes: string[] }> }).services
      .stackwatch?.volumes as string[];
    expect(volumes.filter((v) => v.split(':')[1] === '/host')).toEqual(['/:/host:ro']);
  });

  it('the READMEs show both docker compose and docker-compose', () => {
    for (const file of [join(REPO_ROOT, 'README.md'), join(DEPLOY, 'README.md')]) {
      const text = readFileSync(file, 'utf8');
      expect(text, file).toContain('docker compose up -d');
      expect(text, file).toContain('docker-compose up -d');
    }
  });
});

describe('Dockerfile and .dockerignore', () => {
  const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
  const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n');

  it('builds and runs on Node.js 24 LTS on Debian 13, slim', () => {
    expect(baseImages(dockerfile)).toEqual([{ name: 'node:24-trixie-slim', nodeMajor: 24, suite: 'trixie' }]);
  });

  it('needs no frontend image from a registry (no syntax directive)', () => {
    expect(dockerfile).not.toMatch(/^#\s*syntax=/im);
  });

  it('checks health with stackwatch healthcheck, which follows the flags given to the service', () => {
    expect(dockerfile).toMatch(
      /^HEALTHCHECK .*\\\n\s+CMD \["node", "\/app\/dist\/cli\.js", "healthcheck"\]$/m,
    );
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "\/app\/dist\/cli\.js"\]$/m);
  });

  it('keeps the compose secrets and local data out of the build context', () => {
    for (const p of ['deploy/secrets', '**/.env', 'data']) expect(ignored).toContain(p);
  });
});

describe("the image test's Debian mirror", () => {
  it('is read from deb822 and one-line apt sources, security suites skipped', () => {
    const deb822 = [
      'Types: deb',
      'URIs: http://deb.debian.org/debian-security',
      'Suites: bookworm-security',
      'Components: main',
      '',
      'Types: deb',
      'URIs: http://deb.debian.org/debian',
      'Suites: bookworm bookworm-updates',
      'Components: main',
    ].join('\n');
    expect(parseAptSource(deb822)).toEqual({ uri: 'http://deb.debian.org/debian', suite: 'bookworm' });
    const oneLine =
      'deb http://security.debian.org/ bookworm-security main\ndeb [arch=amd64] http://mirror.example/debian bookworm main contrib\n';
    expect(parseAptSource(oneLine)).toEqual({ uri: 'http://mirror.example/debian', suite: 'bookworm' });
  });
});
