"""The metrology library: pure functions and models for corrections, tolerances, GUM
uncertainty budgets and ILAC-G8 decisions, used by the procedures and usable on their own."""
