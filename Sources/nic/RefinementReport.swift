import FFGlue
import NICCore

// --refine N of `ai-encode` and `downscale`: one range, one warning, one JSON shape.

/// `steps` when it is a valid --refine value.
func checkedRefineSteps(_ steps: Int) throws -> Int {
    guard (0...1000).contains(steps) else { throw NICError.invalidArgument("--refine takes 0...1000 steps, not \(steps)") }
    return steps
}

/// Warns when a refinement asked for could not run; the JSON object of one that did (else nil).
func reportRefinement(_ refinement: Result<SmallImageRefiner.Outcome, SmallImageRefiner.Skip>?, steps: Int) -> JSONValue? {
    switch refinement {
    case .failure(let skip)?:
        printWarning("refinement skipped: \(skip.reason)")
        return nil
    case .success(let o)?:
        return .object([
            "steps": .number(Double(steps)), "lambda": .number(Double(o.lambda)),
            "cost_before": .number(o.costBefore), "cost_after": .number(o.costAfter),
        ])
    case nil:
        return nil
    }
}
