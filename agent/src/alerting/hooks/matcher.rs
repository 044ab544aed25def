//! Which hooks an event selects: its kind (`on`), any of its signals against the hook's globs,
//! its severity against the minimum, and its state against `states`.

use seismo_config::{any_match, HookConfig, HookSeverity, HookState};

use super::input::HookInput;
use crate::event::{AlertState, Severity};

pub(crate) fn matches(hook: &HookConfig, input: &dyn HookInput) -> bool {
    hook.on == input.kind()
        && severity_at_least(input.severity(), hook.min_severity)
        && hook.runs_on(state(input.state()))
        && input.signals().iter().any(|s| any_match(&hook.signals, s))
}

fn severity_at_least(s: Severity, min: HookSeverity) -> bool {
    match min {
        HookSeverity::Warning => true,
        HookSeverity::Critical => s == Severity::Critical,
    }
}

fn state(s: AlertState) -> HookState {
    match s {
        AlertState::Firing => HookState::Firing,
        AlertState::Resolved => HookState::Resolved,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::hooks::input::tests::log_alert;

    fn hook(extra: &str) -> HookConfig {
        let text = format!(
            "[[hooks]]\nname = \"h\"\nsignals = [\"log.app.*\", \"host.disk.*\"]\ncommand = [\"/bin/true\"]\n{extra}"
        );
        seismo_config::parse(&text, "t").unwrap().hooks.remove(0)
    }

    #[test]
    fn globs_severity_state_and_kind_select() {
        let w = log_alert(
            "log.app.errors_per_s",
            Severity::Warning,
            AlertState::Firing,
        );
        let c = log_alert(
            "log.app.errors_per_s",
            Severity::Critical,
            AlertState::Firing,
        );
        let other = log_alert(
            "host.cpu.utilization",
            Severity::Critical,
            AlertState::Firing,
        );
        let resolved = log_alert(
            "log.app.errors_per_s",
            Severity::Critical,
            AlertState::Resolved,
        );

        let h = hook("");
        assert!(matches(&h, &w) && matches(&h, &c));
        assert!(!matches(&h, &other), "no glob matches");
        assert!(!matches(&h, &resolved), "firing only by default");

        let h = hook("min_severity = \"critical\"\nstates = [\"firing\", \"resolved\"]\n");
        assert!(!matches(&h, &w) && matches(&h, &c) && matches(&h, &resolved));

        let h = hook("on = \"incident\"\n");
        assert!(!matches(&h, &c), "an alert is not an incident");
    }
}
