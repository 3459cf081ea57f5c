"""The offline evaluation harness (`make eval`, `movierec eval`): splits, tasks, rankers, report."""
