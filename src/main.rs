use anomaly_hunter::synthetic::scenarios::{generate, Tier};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() > 2 {
        let scenario: &'static str = Box::leak(args[1].clone().into_boxed_str());
        let case = generate(scenario, Tier::Hard, args[2].parse().unwrap(), args[3] == "1");
        let v = anomaly_hunter::investigation::investigate(&case.series, &[], Default::default());
        println!("{}", serde_json::to_string_pretty(&v).unwrap());
        return;
    }
    let seeds = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let report = anomaly_hunter::bench::efficacy::run(seeds);
    print!("{report}");
}
