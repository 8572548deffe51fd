//! `sooth tune`: a race over batch sizes (and optionally one or two
//! hyperparameters) that finds the best one with a fraction of the runs of
//! the full grid. The race is [`race::race`], a pure function of the runs'
//! peak accuracies (its module states the test, the schedule and the
//! stopping rule).

pub mod race;
