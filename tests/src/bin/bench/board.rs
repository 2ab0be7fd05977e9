//! The figures of a run against their targets, printed as they come and again as one table.

/// Latencies of repeated requests, in milliseconds.
#[derive(Debug, Clone)]
pub struct Samples {
    /// The first request (cold caches), not counted in the others.
    pub first_ms: f64,
    pub median_ms: f64,
    pub p95_ms: f64,
    pub n: usize,
}

impl Samples {
    pub fn new(first_ms: f64, mut times: Vec<f64>) -> Self {
        times.sort_by(f64::total_cmp);
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        Self { first_ms, median_ms: at(0.5), p95_ms: at(0.95), n: times.len() }
    }
}

struct Line {
    what: String,
    figure: String,
    target: String,
    met: Option<bool>,
}

/// Every checked figure of the run.
#[derive(Default)]
pub struct Board {
    lines: Vec<Line>,
}

impl Board {
    /// Records a figure with its target and whether it is met, and prints it.
    pub fn check(&mut self, what: &str, figure: String, target: &str, met: bool) {
        println!("  {what}: {figure}   target {target}: {}", if met { "met" } else { "MISSED" });
        self.lines.push(Line { what: what.to_owned(), figure, target: target.to_owned(), met: Some(met) });
    }

    /// Records a figure that has no target.
    pub fn note(&mut self, what: &str, figure: String) {
        println!("  {what}: {figure}");
        self.lines.push(Line { what: what.to_owned(), figure, target: String::new(), met: None });
    }

    /// A latency target on the p95 of repeated requests.
    pub fn latency(&mut self, what: &str, s: &Samples, below_ms: f64) {
        let figure = format!("median {:.1} ms, p95 {:.1} ms (n={}, first {:.1} ms)", s.median_ms, s.p95_ms, s.n, s.first_ms);
        self.check(what, figure, &format!("p95 < {below_ms:.0} ms"), s.p95_ms < below_ms);
    }

    pub fn print(&self) {
        let width = self.lines.iter().map(|l| l.what.chars().count()).max().unwrap_or(0);
        let fig = self.lines.iter().map(|l| l.figure.chars().count()).max().unwrap_or(0).min(64);
        println!("\n{:<width$}  {:<fig$}  {:<22}  verdict", "figure", "measured", "target");
        for l in &self.lines {
            let verdict = match l.met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "",
            };
            println!("{:<width$}  {:<fig$}  {:<22}  {verdict}", l.what, l.figure, l.target);
        }
        let checked = self.lines.iter().filter(|l| l.met.is_some()).count();
        let met = self.lines.iter().filter(|l| l.met == Some(true)).count();
        println!("{met} of {checked} targets met");
    }
}
