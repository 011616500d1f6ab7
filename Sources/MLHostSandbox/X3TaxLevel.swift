import MLHostCore

extension X3Simulator {
  /// X3 computes a line's tax from its tax level: a tax amount that is not the level's rate of the line's amount
  /// (give or take the cents of a rate split over several authorities) means the line carries the wrong level, as
  /// when a taxed shipping line is sent as exempt.
  static func taxProblem(line: Int, amount: ExactDecimal, tax: ExactDecimal, level: String, percent: String) -> String?
  {
    guard let rate = ExactDecimal(percent).flatMap({ try? $0.divided(by: ExactDecimal(100), scale: 8, .halfEven) }),
      let expected = try? amount.multiplied(by: rate).rounded(scale: 2, .halfUp),
      let gap = try? tax.subtracting(expected)
    else { return nil }
    let magnitude = gap < ExactDecimal(0) ? ((try? ExactDecimal(0).subtracting(gap)) ?? gap) : gap
    guard magnitude > ExactDecimal("0.02")! else { return nil }
    return "Line \(line): tax \(tax) is not \(percent) % (tax level \(level)) of \(amount)"
  }
}
