internal import YAML

/// The nodes `sluice inject` adds to a pod, built from the options. Mirrors the sidecar in
/// `k8s/base/deployment.yaml` and the Component in `k8s/components/sluice`.
struct SluiceSidecar {
    static let containerName = "sluice"
    static let socketVolume = "sluice-socket"
    static let rulesVolume = "sluice-rules"
    static let socketDirectory = "/var/run/sluice"
    static let socketPath = "/var/run/sluice/sluice.sock"
    static let rulesDirectory = "/etc/sluice"
    static let socketEnv = "SLUICE_SOCKET"
    static let metricsPort = 9780

    let options: InjectOptions

    /// The native sidecar: an init container with `restartPolicy: Always` (Kubernetes 1.29+), so
    /// it starts before the app containers, runs for the pod's whole life and stops after them.
    var container: YAMLNode {
        YAML.map([
            "name": YAML.string(Self.containerName),
            "image": YAML.string(options.image),
            "imagePullPolicy": YAML.string("IfNotPresent"),
            "restartPolicy": YAML.string("Always"),
            "args": YAML.strings([
                "--config", "\(Self.rulesDirectory)/rules.yaml",
                "--socket", Self.socketPath,
                // The socket's emptyDir belongs to this pod alone, so 0666 opens the socket only to
                // the pod's own containers — which may run as any uid, with or without an fsGroup.
                "--socket-mode", "0666",
                "--metrics-address", "0.0.0.0:\(Self.metricsPort)",
                "--log-format", "json",
                // Rules come from the ConfigMap (hot-reloaded); nobody in the pod should change them.
                "--no-admin",
            ]),
            "ports": YAML.list([
                YAML.map(["name": YAML.string("metrics"), "containerPort": YAML.int(Self.metricsPort), "protocol": YAML.string("TCP")]),
            ]),
            "startupProbe": probe(path: "/readyz", period: 1, timeout: nil, failures: 30),
            "livenessProbe": probe(path: "/healthz", period: 10, timeout: 2, failures: 3),
            "readinessProbe": probe(path: "/readyz", period: 5, timeout: 2, failures: 2),
            "resources": YAML.map([
                "requests": YAML.map(["cpu": YAML.string(options.cpuRequest), "memory": YAML.string(options.memoryRequest)]),
                "limits": YAML.map(["cpu": YAML.string(options.cpuLimit), "memory": YAML.string(options.memoryLimit)]),
            ]),
            // Restricted on the container only: the pod's securityContext belongs to the app.
            "securityContext": YAML.map([
                "allowPrivilegeEscalation": YAML.bool(false),
                "readOnlyRootFilesystem": YAML.bool(true),
                "runAsNonRoot": YAML.bool(true),
                "runAsUser": YAML.int(65532),
                "runAsGroup": YAML.int(65532),
                "capabilities": YAML.map(["drop": YAML.strings(["ALL"])]),
                "seccompProfile": YAML.map(["type": YAML.string("RuntimeDefault")]),
            ]),
            "volumeMounts": YAML.list([
                YAML.map(["name": YAML.string(Self.socketVolume), "mountPath": YAML.string(Self.socketDirectory)]),
                // The whole directory, never a subPath: the kubelet updates a ConfigMap volume by
                // swapping a symlink, which a subPath mount never sees, and Sluice reloads on change.
                YAML.map([
                    "name": YAML.string(Self.rulesVolume), "mountPath": YAML.string(Self.rulesDirectory),
                    "readOnly": YAML.bool(true),
                ]),
            ]),
        ])
    }

    /// The socket's directory: in memory, private to the pod.
    var socketVolume: YAMLNode {
        YAML.map([
            "name": YAML.string(Self.socketVolume),
            "emptyDir": YAML.map(["medium": YAML.string("Memory"), "sizeLimit": YAML.string("1Mi")]),
        ])
    }

    var rulesVolume: YAMLNode {
        YAML.map([
            "name": YAML.string(Self.rulesVolume),
            "configMap": YAML.map(["name": YAML.string(options.configMap)]),
        ])
    }

    /// The app's view of the socket directory. Read-only still lets it connect(): Linux refuses
    /// writes on a read-only mount for files, directories and symlinks, not for sockets.
    var appMount: YAMLNode {
        YAML.map([
            "name": YAML.string(Self.socketVolume), "mountPath": YAML.string(Self.socketDirectory),
            "readOnly": YAML.bool(true),
        ])
    }

    var appEnv: YAMLNode {
        YAML.map(["name": YAML.string(Self.socketEnv), "value": YAML.string(Self.socketPath)])
    }

    /// For a plain Prometheus' `kubernetes_sd_configs` pod role.
    var annotations: KeyValuePairs<String, String> {
        ["prometheus.io/scrape": "true", "prometheus.io/port": String(Self.metricsPort), "prometheus.io/path": "/metrics"]
    }

    private func probe(path: String, period: Int, timeout: Int?, failures: Int) -> YAMLNode {
        let httpGet = YAML.map(["path": YAML.string(path), "port": YAML.string("metrics")])
        guard let timeout else {
            return YAML.map(["httpGet": httpGet, "periodSeconds": YAML.int(period), "failureThreshold": YAML.int(failures)])
        }
        return YAML.map([
            "httpGet": httpGet, "periodSeconds": YAML.int(period), "timeoutSeconds": YAML.int(timeout),
            "failureThreshold": YAML.int(failures),
        ])
    }
}
