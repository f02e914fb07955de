import ArgumentParser
import Logging
import SluiceApp

enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// The process's log handler, once, before anything logs.
func bootstrapLogging(format: LogFormat, level: Logger.Level) {
    LoggingSystem.bootstrap { label in
        var handler: any LogHandler = switch format {
        case .text: StreamLogHandler.standardError(label: label)
        case .json: JSONLogHandler(label: label)
        }
        handler.logLevel = level
        return handler
    }
}
