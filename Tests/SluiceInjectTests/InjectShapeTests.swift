import SluiceInject
import Testing
import YAML

/// What inject adds to each workload kind, read back from its output.
@Suite struct InjectShapeTests {
    /// The sidecar as the brief describes it, written as YAML a reviewer can check line by line.
    static let expectedSidecar = """
        name: sluice
        image: ghcr.io/sluice-rl/sluice:0.1.0
        imagePullPolicy: IfNotPresent
        restartPolicy: Always
        args: [--config, /etc/sluice/rules.yaml, --socket, /var/run/sluice/sluice.sock, --socket-mode, "0666",
               --metrics-address, "0.0.0.0:9780", --log-format, json, --no-admin]
        ports: [{name: metrics, containerPort: 9780, protocol: TCP}]
        startupProbe: {httpGet: {path: /readyz, port: metrics}, periodSeconds: 1, failureThreshold: 30}
        livenessProbe: {httpGet: {path: /healthz, port: metrics}, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3}
        readinessProbe: {httpGet: {path: /readyz, port: metrics}, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2}
        resources: {requests: {cpu: 50m, memory: 32Mi}, limits: {cpu: "1", memory: 128Mi}}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          runAsNonRoot: true
          runAsUser: 65532
          runAsGroup: 65532
          capabilities: {drop: [ALL]}
          seccompProfile: {type: RuntimeDefault}
        volumeMounts:
          - {name: sluice-socket, mountPath: /var/run/sluice}
          - {name: sluice-rules, mountPath: /etc/sluice, readOnly: true}
        """

    @Test(arguments: Fixtures.workloads)
    func sidecarIsTheFirstInitContainer(fixture: String) throws {
        let pod = try #require(try Fixtures.injectedObjects(fixture).first?.podTemplate)
        let first = try #require(pod[path: "spec.initContainers"]?.sequence?.items.first)
        let expected = try #require(try YAMLParser.document(Self.expectedSidecar))
        let same = first == expected
        #expect(same, "the sidecar is\n\(first.yaml)")
        let sluices = pod[path: "spec.initContainers"]?.sequence?.items.filter { $0[path: "name"]?.string == "sluice" }
        #expect(sluices?.count == 1)
    }

    @Test(arguments: Fixtures.workloads)
    func volumesAndAnnotations(fixture: String) throws {
        let pod = try #require(try Fixtures.injectedObjects(fixture).first?.podTemplate)
        #expect(pod[path: "spec.volumes.name=sluice-socket"] == (try YAMLParser.document("""
            {name: sluice-socket, emptyDir: {medium: Memory, sizeLimit: 1Mi}}
            """)))
        #expect(pod[path: "spec.volumes.name=sluice-rules"] == (try YAMLParser.document("""
            {name: sluice-rules, configMap: {name: sluice-rules}}
            """)))
        let annotations = try #require(pod[path: "metadata.annotations"]?.mapping)
        #expect(annotations["prometheus.io/scrape"]?.string == "true")
        #expect(annotations["prometheus.io/scrape"]?.scalar?.style == .doubleQuoted, "a plain true would be a bool")
        #expect(annotations["prometheus.io/port"]?.string == "9780")
        #expect(annotations["prometheus.io/port"]?.scalar?.style == .doubleQuoted)
        #expect(annotations["prometheus.io/path"]?.string == "/metrics")
    }

    @Test(arguments: Fixtures.workloads)
    func everyAppContainerGetsTheReadOnlySocketAndEnv(fixture: String) throws {
        let pod = try #require(try Fixtures.injectedObjects(fixture).first?.podTemplate)
        let containers = try #require(pod[path: "spec.containers"]?.sequence?.items)
        #expect(!containers.isEmpty)
        for container in containers {
            #expect(container[path: "volumeMounts.name=sluice-socket"] == (try YAMLParser.document("""
                {name: sluice-socket, mountPath: /var/run/sluice, readOnly: true}
                """)))
            #expect(container[path: "env.name=SLUICE_SOCKET.value"]?.string == "/var/run/sluice/sluice.sock")
        }
    }

    @Test(arguments: Fixtures.workloads)
    func podSecurityContextAndAppFieldsUnchanged(fixture: String) throws {
        let before = try #require(try YAMLParser.document(try Fixtures.text(fixture))?.podTemplate)
        let after = try #require(try Fixtures.injectedObjects(fixture).first?.podTemplate)
        #expect(after[path: "spec.securityContext"] == before[path: "spec.securityContext"])
        for key in ["restartPolicy", "serviceAccountName", "nodeSelector"] {
            #expect(after[path: "spec.\(key)"] == before[path: "spec.\(key)"])
        }
        // The app's own init containers stay, in order, after the sidecar.
        let initNames = after[path: "spec.initContainers"]?.sequence?.items.compactMap { $0[path: "name"]?.string }
        let originalNames = before[path: "spec.initContainers"]?.sequence?.items.compactMap { $0[path: "name"]?.string } ?? []
        #expect(initNames == ["sluice"] + originalNames)
    }

    @Test func existingEnvMountsAndVolumesAreKept() throws {
        let pod = try #require(try Fixtures.injectedObjects("deployment").first?.podTemplate)
        #expect(pod[path: "spec.containers.name=web.env.name=LISTEN_PORT.value"]?.string == "8080")
        #expect(pod[path: "spec.containers.name=web.volumeMounts.name=cache.mountPath"]?.string == "/var/cache/nginx")
        #expect(pod[path: "spec.volumes"]?.sequence?.items.compactMap { $0[path: "name"]?.string } == ["cache", "sluice-socket", "sluice-rules"])
        #expect(pod[path: "metadata.annotations"]?.mapping?["example.com/owner"]?.string == "team-web")
    }
}
