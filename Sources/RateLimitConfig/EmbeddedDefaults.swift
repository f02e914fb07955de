/// The rules `sluice serve` uses when started without `--config`.
public enum EmbeddedDefaults {
    public static let yaml = """
        # Sluice's embedded default: in-memory state, two example rules.
        backend:
          type: memory
        rules:
          - name: default
            algorithm: token_bucket
            limit: 100
            period: 1m
            burst: 20
          - name: login
            algorithm: sliding_window
            limit: 5
            period: 1m
            overrides:
              - { key: "internal-probe", unlimited: true }

        """

    /// The parsed default configuration.
    public static func configuration() throws(ConfigError) -> Configuration {
        try ConfigLoader.parse(yaml: yaml)
    }
}
