// The packaging files, checked where no engine can build or run them: every file they mount
// exists, every stackwatch configuration they carry passes check-config, and the containers
// run as non-root with the health endpoints wired.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { CLI, REPO_ROOT } from '../support/stackwatch.js';
import { run, tempDir } from '../support/util.js';

const DEPLOY = join(REPO_ROOT, 'deploy');

interface ComposeService {
  volumes?: string[];
  command?: string[];
  healthcheck?: unknown;
}

const compose = parse(readFileSync(join(DEPLOY, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, ComposeService>;
};

/** Validates a configuration with `stackwatch check-config`; secret files it names are faked. */
async function checkConfig(yamlText: string, secretsDir?: string): Promise<{ code: number; out: string }> {
  const tmp = tempDir('swdeploy');
  try {
    let text = yamlText;
    if (secretsDir) {
      // The secret files exist only in the cluster: stand-ins with plausible values.
      const fake = join(tmp.path, 'secrets');
      mkdirSync(fake);
      for (const [name, value] of Object.entries({
        'database-url': 'postgres://stackwatch:pw@127.0.0.1:5432/agent',
        'redis-url': 'redis://127.0.0.1:6379',
      }))
        writeFileSync(join(fake, name), value);
      text = text.split(secretsDir).join(fake);
    }
    const file = join(tmp.path, 'stackwatch.yml');
    writeFileSync(file, text);
    const r = await run(process.execPath, [CLI, 'check-config', file]);
    return { code: r.code, out: r.stdout + r.stderr };
  } finally {
    tmp.cleanup();
  }
}

describe('deploy/docker-compose.yml', () => {
  it('mounts only files and directories that exist in the repository (secrets aside)', () => {
    const missing: string[] = [];
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const v of svc.volumes ?? []) {
        const source = v.split(':')[0] as string;
        if (!source.startsWith('.')) continue; // named volumes and host paths
        if (source.startsWith('./secrets/')) continue; // made by the operator (deploy/README.md)
        if (!existsSync(resolve(DEPLOY, source))) missing.push(`${name}: ${source}`);
      }
    }
    expect(missing).toEqual([]);
    expect(readFileSync(join(DEPLOY, 'README.md'), 'utf8')).toContain('secrets/stackwatch-token');
  });

  it('provisions Grafana with the stack Prometheus and the shipped dashboards', () => {
    const grafana = compose.services.grafana as ComposeService;
    const target = (suffix: string) => grafana.volumes?.find((v) => v.split(':')[1]?.endsWith(suffix));
    expect(target('/var/lib/grafana/dashboards')?.split(':')[0]).toBe('../monitoring/dashboards');
    const ds = parse(readFileSync(join(DEPLOY, 'grafana', 'datasources.yml'), 'utf8')) as {
      datasources: { type: string; url: string; isDefault: boolean }[];
    };
    expect(ds.datasources).toEqual([
      expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090', isDefault: true }),
    ]);
    expect(target('/etc/grafana/provisioning/datasources/stackwatch.yml')).toBeDefined();
    const dash = parse(readFileSync(join(DEPLOY, 'grafana', 'dashboards.yml'), 'utf8')) as {
      providers: { options: { path: string } }[];
    };
    expect(dash.providers[0]?.options.path).toBe('/var/lib/grafana/dashboards');
    expect(target('/etc/grafana/provisioning/dashboards/stackwatch.yml')).toBeDefined();
  });

  it('gives stackwatch deploy/stackwatch.yml, which passes check-config', async () => {
    const sw = compose.services.stackwatch as ComposeService;
    expect(sw.volumes).toContain('./stackwatch.yml:/etc/stackwatch/stackwatch.yml:ro');
    expect(sw.command).toEqual(['--config.file=/etc/stackwatch/stackwatch.yml']);
    const r = await checkConfig(readFileSync(join(DEPLOY, 'stackwatch.yml'), 'utf8'));
    expect(r).toEqual({ code: 0, out: expect.stringContaining('configuration is valid') });
  });
});

describe('deploy/kubernetes', () => {
  const manifests = ['stackwatch.yaml', 'stackwatch-node.yaml'].map((f) => ({
    file: f,
    docs: parseAllDocuments(readFileSync(join(DEPLOY, 'kubernetes', f), 'utf8')).map(
      (d) => d.toJS() as Record<string, any>, // eslint-disable-line @typescript-eslint/no-explicit-any
    ),
  }));

  it.each(manifests)('$file: the ConfigMap passes check-config', async ({ docs }) => {
    const cm = docs.find((d) => d.kind === 'ConfigMap');
    const text = cm?.data?.['stackwatch.yml'] as string;
    expect(text).toBeTruthy();
    const r = await checkConfig(text, '/etc/stackwatch-secrets');
    expect(r).toEqual({ code: 0, out: expect.stringContaining('configuration is valid') });
  });

  it.each(manifests)(
    '$file: the workload is probed on /-/ready and /-/healthy and reads that config',
    ({ docs }) => {
      const workload = docs.find((d) => d.kind === 'StatefulSet' || d.kind === 'DaemonSet');
      const container = workload?.spec.template.spec.containers[0];
      expect(container.args).toEqual(['--config.file=/etc/stackwatch/stackwatch.yml']);
      expect(container.readinessProbe?.httpGet?.path).toBe('/-/ready');
      expect(container.livenessProbe?.httpGet?.path).toBe('/-/healthy');
      expect(container.ports).toContainEqual({ name: 'http', containerPort: 9879 });
    },
  );

  it.each(manifests)(
    '$file: mounts the ConfigMap as a directory, so an update reaches a reload',
    ({ docs }) => {
      const spec = docs.find((d) => d.kind === 'StatefulSet' || d.kind === 'DaemonSet')?.spec.template.spec;
      const cm = docs.find((d) => d.kind === 'ConfigMap');
      const volume = spec.volumes.find(
        (v: { configMap?: { name: string } }) => v.configMap?.name === cm?.metadata.name,
      );
      expect(volume.configMap.items).toEqual([{ key: 'stackwatch.yml', path: 'stackwatch.yml' }]);
      const mounts = spec.containers[0].volumeMounts as {
        name: string;
        mountPath: string;
        subPath?: string;
      }[];
      // Kubernetes never updates a subPath mount
      expect(mounts.filter((m) => m.subPath)).toEqual([]);
      expect(mounts.find((m) => m.name === volume.name)?.mountPath).toBe('/etc/stackwatch');
      // nothing else is mounted inside the read-only ConfigMap volume
      expect(mounts.filter((m) => m.mountPath.startsWith('/etc/stackwatch/'))).toEqual([]);
    },
  );

  it('the node DaemonSet reaches the Docker socket without requiring one', () => {
    const docs = manifests[1]?.docs ?? [];
    const spec = docs.find((d) => d.kind === 'DaemonSet')?.spec.template.spec;
    expect(spec.hostPID).toBe(true);
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(spec.securityContext.supplementalGroups).toHaveLength(1);
    const root = spec.volumes.find((v: { hostPath?: { path: string } }) => v.hostPath?.path === '/');
    expect(spec.containers[0].volumeMounts).toContainEqual(
      expect.objectContaining({ name: root.name, mountPath: '/host', readOnly: true }),
    );
    // a hostPath that may be missing is created as a directory, which `enabled: auto` would take for the engine
    expect(
      spec.volumes.filter((v: { hostPath?: { path: string } }) => /docker/.test(v.hostPath?.path ?? '')),
    ).toEqual([]);
    const cm = docs.find((d) => d.kind === 'ConfigMap');
    const docker = (parse(cm?.data['stackwatch.yml']) as { collectors: { docker: Record<string, string> } })
      .collectors.docker;
    expect(docker).toMatchObject({ enabled: 'auto', host: 'unix:///host/run/docker.sock' });
  });

  it('runs the receiver replica as non-root with its outbox on a volume', () => {
    const docs = manifests[0]?.docs ?? [];
    const sts = docs.find((d) => d.kind === 'StatefulSet');
    expect(sts?.spec.replicas).toBe(1);
    expect(sts?.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    const mounts = sts?.spec.template.spec.containers[0].volumeMounts as { mountPath: string }[];
    const cm = docs.find((d) => d.kind === 'ConfigMap');
    const dataDir = (parse(cm?.data['stackwatch.yml']) as { data_dir: string }).data_dir;
    expect(mounts.map((m) => m.mountPath)).toContain(dataDir);
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');

  it('is multi-stage, runs as a non-root user and checks its health (stackwatch healthcheck: /-/healthy, /-/ready)', () => {
    expect(text.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    const user = [...text.matchAll(/^USER (\S+)/gm)].at(-1)?.[1];
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    expect(text).toMatch(/^HEALTHCHECK [^\n]*\\\n\s+CMD \["node", "\/app\/dist\/cli\.js", "healthcheck"\]$/m);
  });

  it('copies only files that exist and are not excluded by .dockerignore', () => {
    const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').filter(Boolean);
    const sources = [...text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) =>
      (m[1] as string).split(/\s+/),
    );
    expect(sources.length).toBeGreaterThan(0);
    for (const s of sources) {
      expect(existsSync(join(REPO_ROOT, s)), s).toBe(true);
      expect(ignored.includes(dirname(s) === '.' ? s : (s.split('/')[0] as string)), s).toBe(false);
    }
  });
});
