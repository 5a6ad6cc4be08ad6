// Validates docker/k8s/*.yaml without a cluster: every object against the Kubernetes API schemas
// (kubernetes-models), unknown fields rejected as `kubectl apply --validate=strict` does, and the
// wiring a working rollout needs (replicas, httpGet probes on the metrics listener's /readyz and
// /healthz, Prometheus scrape annotations, resources, drain within the grace period, selectors,
// ConfigMap mount). Writes each ConfigMap's TOML to OUT_DIR
// (with hosts.txt: the Service names the config may use) for `perfgate --check-config`.
// Usage: node validate.mjs MANIFEST_DIR OUT_DIR VERSION
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";

// Services the manifests expect to exist already: the application that perfgate fronts.
const EXTERNAL_SERVICES = ["backend"];

const [manifestDir, outDir, version] = process.argv.slice(2);
let failures = 0;
const ok = (message) => console.log(`ok:   ${message}`);
const fail = (message) => { console.log(`FAIL: ${message}`); failures++; };
const check = (condition, message, detail = "") => (condition ? ok(message) : fail(detail ? `${message}: ${detail}` : message));

// "apps/v1" + "Deployment" -> the model class of kubernetes-models.
async function modelFor(apiVersion, kind) {
  try {
    return (await import(`kubernetes-models/${apiVersion}/${kind}`))[kind];
  } catch {
    return null;
  }
}

// Wraps `value` so that every property the validator looks at is recorded; objects it enumerates
// (maps such as labels or ConfigMap data) accept any key.
function track(value, path, seen) {
  if (value === null || typeof value !== "object") return value;
  const entry = { path, keys: Object.keys(value), read: new Set(), enumerated: false, array: Array.isArray(value) };
  seen.push(entry);
  const target = Array.isArray(value)
    ? value.map((v, i) => track(v, `${path}/${i}`, seen))
    : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, track(v, `${path}/${k}`, seen)]));
  return new Proxy(target, {
    get(t, key, receiver) { if (typeof key === "string") entry.read.add(key); return Reflect.get(t, key, receiver); },
    has(t, key) { if (typeof key === "string") entry.read.add(key); return Reflect.has(t, key); },
    ownKeys(t) { entry.enumerated = true; return Reflect.ownKeys(t); },
  });
}

// Schema errors and unknown fields of one object; [] when valid.
async function problems(doc) {
  if (!doc || typeof doc.apiVersion !== "string" || typeof doc.kind !== "string") return ["no apiVersion/kind"];
  const Model = await modelFor(doc.apiVersion, doc.kind);
  if (!Model) return [`unknown kind ${doc.apiVersion}/${doc.kind}`];
  const seen = [];
  const errors = [];
  try {
    Model.prototype.validate.call(track(doc, "", seen));
  } catch (e) {
    errors.push(e.message);
  }
  for (const entry of seen) {
    if (entry.array || entry.enumerated) continue;
    for (const key of entry.keys) if (!entry.read.has(key)) errors.push(`unknown field ${entry.path}/${key}`);
  }
  return errors;
}

const parseMillis = (text) => {
  const m = /^(\d+)(ms|s|m|h)$/.exec(text);
  return m ? Number(m[1]) * { ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2]] : NaN;
};
// `key = "value"` in a [section] of a TOML text (enough for the settings checked here).
function tomlString(toml, section, key) {
  let current = "";
  for (const line of toml.split("\n")) {
    const header = /^\s*\[([^\]]+)\]/.exec(line);
    if (header) current = header[1];
    const kv = new RegExp(`^\\s*${key}\\s*=\\s*"([^"]*)"`).exec(line);
    if (kv && current === section) return kv[1];
  }
  return undefined;
}
const matches = (selector, labels) => Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);

// --- load
const docs = [];
for (const file of readdirSync(manifestDir).filter((f) => f.endsWith(".yaml")).sort()) {
  for (const parsed of parseAllDocuments(readFileSync(join(manifestDir, file), "utf8"))) {
    if (parsed.errors.length) fail(`${file}: YAML: ${parsed.errors.map((e) => e.message).join("; ")}`);
    const doc = parsed.toJS();
    if (doc) docs.push({ file, doc });
  }
}
check(docs.length > 0, `${docs.length} objects in ${manifestDir}`);

// --- schemas
for (const { file, doc } of docs) {
  const found = await problems(doc);
  check(found.length === 0, `${file}: ${doc.kind} ${doc.metadata?.name} is valid ${doc.apiVersion}`, found.join("; "));
}

// The validator itself must reject broken objects, or the checks above prove nothing.
const find = (kind, name) => docs.map((d) => d.doc).find((d) => d.kind === kind && d.metadata?.name === name);
const deployment = find("Deployment", "perfgate");
if (deployment) {
  const mutations = {
    "a misspelt field (spec.replica)": (d) => { d.spec.replica = 2; },
    "a wrong type (replicas: \"two\")": (d) => { d.spec.replicas = "two"; },
    "a missing required field (selector)": (d) => { delete d.spec.selector; },
    "a misspelt nested field (containers[0].imagee)": (d) => { d.spec.template.spec.containers[0].imagee = "x"; },
  };
  for (const [what, mutate] of Object.entries(mutations)) {
    const copy = structuredClone(deployment);
    mutate(copy);
    check((await problems(copy)).length > 0, `the validator rejects ${what}`);
  }
}

// --- wiring of the perfgate Deployment
const services = docs.map((d) => d.doc).filter((d) => d.kind === "Service");
if (!deployment) {
  fail("no Deployment named perfgate");
} else {
  const spec = deployment.spec;
  const pod = spec.template.spec;
  const container = pod.containers.find((c) => c.name === "perfgate") ?? pod.containers[0];
  check(spec.replicas >= 2, `perfgate runs ${spec.replicas} replicas (2 or more)`);
  check(container.image === `perfgate:${version}`, `perfgate image is perfgate:${version}`, container.image);
  const httpPath = (probe) => probe?.httpGet?.path;
  check(httpPath(container.readinessProbe) === "/readyz", "readiness probe: httpGet /readyz",
    JSON.stringify(container.readinessProbe ?? {}));
  check(httpPath(container.livenessProbe) === "/healthz", "liveness probe: httpGet /healthz",
    JSON.stringify(container.livenessProbe ?? {}));
  const requests = container.resources?.requests ?? {};
  check(requests.cpu && requests.memory, "resource requests for cpu and memory", JSON.stringify(requests));
  check(pod.securityContext?.runAsNonRoot === true, "pods run as non-root");

  // --config PATH must be a key of a ConfigMap mounted at PATH's directory.
  const configPath = container.args?.[container.args.indexOf("--config") + 1] ?? "";
  const mountDir = configPath.slice(0, configPath.lastIndexOf("/"));
  const mount = container.volumeMounts?.find((m) => m.mountPath === mountDir);
  const volume = pod.volumes?.find((v) => v.name === mount?.name);
  const configMap = volume?.configMap && find("ConfigMap", volume.configMap.name);
  const toml = configMap?.data?.[configPath.slice(mountDir.length + 1)];
  check(typeof toml === "string", `--config ${configPath} is a key of a mounted ConfigMap`);
  if (typeof toml === "string") {
    const drain = parseMillis(tomlString(toml, "server", "drain_timeout") ?? "10s");
    const preStop = container.lifecycle?.preStop?.exec?.command;
    const preStopMs = preStop?.[0] === "sleep" ? Number(preStop[1]) * 1000 : 0;
    const grace = (pod.terminationGracePeriodSeconds ?? 30) * 1000;
    check(drain + preStopMs < grace,
      `SIGTERM drain fits the grace period: preStop ${preStopMs / 1000} s + drain_timeout ${drain / 1000} s < terminationGracePeriodSeconds ${grace / 1000} s`);
    const listen = tomlString(toml, "server", "listen") ?? "0.0.0.0:8080";
    const port = Number(listen.slice(listen.lastIndexOf(":") + 1));
    check(container.ports?.some((p) => p.containerPort === port), `container port ${port} matches [server] listen`);
    // The kubelet and Prometheus reach the metrics listener on the pod's IP: it must listen
    // beyond loopback, on the port the container names `metrics`, which the probes and the
    // prometheus.io/port annotation use.
    const metrics = tomlString(toml, "metrics", "listen");
    const metricsHost = metrics?.slice(0, metrics.lastIndexOf(":"));
    const metricsPort = metrics === undefined ? NaN : Number(metrics.slice(metrics.lastIndexOf(":") + 1));
    check(metrics !== undefined, "[metrics] listen is set (the probes' listener)");
    check(metricsHost !== undefined && !/^(127\.|localhost$|\[::1\]$)/.test(metricsHost),
      `[metrics] listen ${metrics} is reachable from outside the pod (not loopback)`);
    const metricsContainerPort = container.ports?.find((p) => p.name === "metrics");
    check(metricsContainerPort?.containerPort === metricsPort,
      `container port "metrics" is ${metricsPort}, the port of [metrics] listen`, JSON.stringify(metricsContainerPort ?? null));
    for (const [what, probe] of [["readiness", container.readinessProbe], ["liveness", container.livenessProbe]]) {
      const port = probe?.httpGet?.port;
      check(port === "metrics" || port === metricsPort, `${what} probe reaches [metrics] listen ${metrics}`, String(port));
    }
    const annotations = deployment.spec.template.metadata.annotations ?? {};
    check(annotations["prometheus.io/scrape"] === "true" && annotations["prometheus.io/path"] === "/metrics" &&
          Number(annotations["prometheus.io/port"]) === metricsPort,
      `pod annotations prometheus.io/scrape "true", path /metrics, port ${metricsPort}`, JSON.stringify(annotations));
    writeFileSync(join(outDir, `${configMap.metadata.name}.toml`), toml);
  }
  const service = services.find((s) => matches(s.spec.selector, spec.template.metadata.labels));
  check(service, "a Service selects the perfgate pods");
  if (service) {
    for (const p of service.spec.ports) {
      check(container.ports.some((c) => c.name === p.targetPort || c.containerPort === p.targetPort),
        `Service ${service.metadata.name} port ${p.port} targets a container port (${p.targetPort})`);
    }
  }
  check(matches(spec.selector.matchLabels, spec.template.metadata.labels), "the Deployment's selector matches its pod labels");
  const pdb = docs.map((d) => d.doc).find((d) => d.kind === "PodDisruptionBudget");
  if (pdb) check(matches(pdb.spec.selector.matchLabels, spec.template.metadata.labels), "the PodDisruptionBudget selects the perfgate pods");
}

// --- Redis for the (future) shared L2 cache
const redisService = services.find((s) => s.spec.ports.some((p) => p.port === 6379));
const redisDeployment = redisService &&
  docs.map((d) => d.doc).find((d) => d.kind === "Deployment" && matches(redisService.spec.selector, d.spec.template.metadata.labels));
check(redisService && redisDeployment, "Redis: a Service on 6379 selecting a Deployment");

writeFileSync(join(outDir, "hosts.txt"), [...services.map((s) => s.metadata.name), ...EXTERNAL_SERVICES].join("\n") + "\n");
console.log(`${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
