// The YAML parser and emitter that read the configuration and `sluice inject`'s manifests.
//
// Invariants beyond "no crash, no hang, no ASan report":
// - an error's line lies in the text (1 to lines + 1), its column is at least 1, and the
//   construct it names starts no later than the error;
// - every document, written by the emitter, reads back as one document equal to it, and writing
//   that again gives the same text (what makes `sluice inject` idempotent).
import FuzzSupport
import YAML

/// Nodes in `node`, counting up to `limit` (aliases make small texts into large trees; the
/// round trip is checked on the ones that stay small, so every input runs in milliseconds).
private func nodeCount(_ node: YAMLNode, limit: Int) -> Int {
    var count = 1
    var stack = [node]
    while let next = stack.popLast(), count < limit {
        switch next {
        case .scalar: break
        case .sequence(let sequence):
            count += sequence.items.count
            stack += sequence.items
        case .mapping(let mapping):
            count += mapping.pairs.count * 2
            for pair in mapping.pairs { stack += [pair.key, pair.value] }
        }
    }
    return count
}

private func checkError(_ error: YAMLError, _ text: String) {
    let lines = text.utf8.reduce(1) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) } + text.utf8.filter { $0 == UInt8(ascii: "\r") }.count
    require(error.mark.line >= 1 && error.mark.line <= lines + 1, "error line \(error.mark.line) outside a \(lines)-line text: \(error)")
    require(error.mark.column >= 1, "error column \(error.mark.column): \(error)")
    if let context = error.contextMark {
        require(context.line <= error.mark.line, "the context \(context) comes after the error \(error.mark)")
    }
    require(!error.message.isEmpty, "an empty message")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let text = String(decoding: input(data, size), as: UTF8.self)
    let documents: [YAMLNode]
    do {
        documents = try YAMLParser.documents(text)
    } catch {
        checkError(error, text)
        return 0
    }
    for document in documents where nodeCount(document, limit: 20_000) < 20_000 {
        let written = YAMLEmitter.document(document)
        do {
            let again = try YAMLParser.documents(written)
            require(again.count == 1, "one document written, \(again.count) read back:\n\(written)")
            require(again[0] == document, "the document written does not read back equal:\n\(written)")
            require(YAMLEmitter.document(again[0]) == written, "writing again changes the text:\n\(written)")
        } catch {
            require(false, "the document written does not parse (\(error)):\n\(written)")
        }
    }
    return 0
}

