//! ARC Region switch plans and their executions, as the world holds them
//! (the API over them is `crate::region_switch`).

use ciborium::value::Value;

/// A plan as CreatePlan received it (the `workflows` are kept as sent).
#[derive(Clone, Debug)]
pub struct Plan {
    pub arn: String,
    pub name: String,
    pub regions: Vec<String>,
    pub primary_region: Option<String>,
    pub execution_role: String,
    pub recovery_approach: String,
    pub workflows: Value,
}

#[derive(Clone, Debug)]
pub struct Execution {
    pub plan_arn: String,
    pub id: String,
    pub action: String,
    pub region: String,
    pub mode: String,
    pub state: String,
    pub start: f64,
    pub end: Option<f64>,
    pub comment: Option<String>,
    /// The Region whose endpoint started it.
    pub home: String,
    /// (name, status, start) of each step begun.
    pub steps: Vec<(String, String, f64)>,
}

#[derive(Clone, Debug, Default)]
pub struct RegionSwitchState {
    pub plans: Vec<Plan>,
    pub executions: Vec<Execution>,
}
