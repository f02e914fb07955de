/// What `POST /v1/reload` asks of the app: read the rules again from where they came from.
/// The app's reloader (also run on SIGHUP and file changes) knows nothing of HTTP; the handler
/// maps its `ReloadError` to a status.
public protocol RulesReloading: Sendable {
    /// The number of rules installed, or why nothing changed.
    func reload(reason: String) -> Result<Int, ReloadError>
}

/// Why a reload changed nothing.
public enum ReloadError: Error, Sendable, Equatable {
    /// Started on the embedded rules: there is no file to read (409).
    case noFile
    /// The file is unreadable or invalid; the previous rules stay (422).
    case invalid(String)

    var apiError: APIError {
        switch self {
        case .noFile: APIError(.conflict, "no configuration file to reload: sluice was started without --config")
        case .invalid(let why): APIError(.unprocessable, why)
        }
    }
}
