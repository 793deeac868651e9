extension Duration {
    /// The duration in seconds, fractions included: for timers, results and messages.
    public var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
