//! The contract of the continuous-time models: leaky dynamics
//!
//! `τ_i du_i/dt = −u_i + D_i(u)`
//!
//! for a state `u` of `dim` real components, each with its own time
//! constant `τ_i`, and a *drive* `D` the model computes for a block of
//! states at once (a matrix product, so that a batch is GEMM-shaped). The
//! graded-response network (`D = W g(u) + I`) and the hidden-neuron model
//! (`D_x = Ξᵀ f(h) + I`, `D_h = Ξ g(x)`) are of this form. Data and a trait
//! only: the driver is [`flow`](super::flow); models depend on this file,
//! never on the driver.

use crate::error::{Error, Result};

/// A model of leaky continuous-time dynamics (see the module docs).
///
/// `drive` must treat rows independently: row `r` of the output depends on
/// row `r` of the input only, computed in the same order whatever the
/// number of rows, so that results do not depend on batch splits.
pub trait LeakyModel: Sync {
    /// Number of components of a state.
    fn dim(&self) -> usize;

    /// Time constant of every component (`dim` values, each finite `> 0`).
    fn taus(&self) -> &[f64];

    /// The longest step the model's energy is proved to descend with
    /// (the driver refuses a longer `dt`).
    fn max_dt(&self) -> f64;

    /// `out ← D(u)` for `rows` row-major states `u` (`rows × dim` each).
    fn drive(&self, states: &[f64], rows: usize, out: &mut [f64]);

    /// The model's Lyapunov energy of `state`, given `drive = D(state)`
    /// (the models' energies reuse the drive's matrix product); `None`
    /// where the model has none.
    fn energy(&self, state: &[f64], drive: &[f64]) -> Option<f64>;
}

/// What an integration is asked to do: exponential-Euler steps of `dt`,
/// at most `max_steps`, stopping a state early once its rate of change
/// `max_i |du_i/dt|` is at most `tol`; at steps 0, `stride`, 2·`stride`, …
/// (until the state stops) the energy and, with `trajectory`, the state are
/// recorded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlowOptions {
    dt: f64,
    max_steps: u32,
    tol: f64,
    stride: Option<u32>,
    trajectory: bool,
}

impl FlowOptions {
    /// Checked options.
    ///
    /// # Errors
    /// `Value` when `dt` is not finite `> 0`, `tol` not finite `>= 0`, or
    /// `stride` is zero, or a trajectory is asked for without a stride.
    pub fn new(
        dt: f64,
        max_steps: u32,
        tol: f64,
        stride: Option<u32>,
        trajectory: bool,
    ) -> Result<Self> {
        if !(dt.is_finite() && dt > 0.0) {
            return Err(Error::Value(format!(
                "dt must be a finite number > 0, got {dt:?}"
            )));
        }
        if !(tol.is_finite() && tol >= 0.0) {
            return Err(Error::Value(format!(
                "tol must be a finite number >= 0, got {tol:?}"
            )));
        }
        if stride == Some(0) {
            return Err(Error::Value("record must be at least 1".into()));
        }
        if trajectory && stride.is_none() {
            return Err(Error::Value(
                "a trajectory needs record=k (record every k steps)".into(),
            ));
        }
        Ok(FlowOptions {
            dt,
            max_steps,
            tol,
            stride,
            trajectory,
        })
    }

    /// The step.
    pub fn dt(&self) -> f64 {
        self.dt
    }

    /// Most steps.
    pub fn max_steps(&self) -> u32 {
        self.max_steps
    }

    /// Stopping tolerance on `max_i |du_i/dt|`.
    pub fn tol(&self) -> f64 {
        self.tol
    }

    /// Record every this many steps (`None`: only the final state).
    pub fn stride(&self) -> Option<u32> {
        self.stride
    }

    /// Whether states are recorded, not only energies.
    pub fn trajectory(&self) -> bool {
        self.trajectory
    }

    /// Number of recording points of a run that is not stopped early:
    /// steps 0, stride, 2·stride, … up to `max_steps`.
    pub fn records(&self) -> usize {
        self.stride.map_or(0, |s| (self.max_steps / s) as usize + 1)
    }
}

/// One state's run.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowOutcome {
    /// Steps taken.
    pub steps: u32,
    /// Whether the run stopped at the tolerance (not at `max_steps`).
    pub converged: bool,
    /// `max_i |du_i/dt|` at the final state.
    pub rate: f64,
    /// Energy of the final state (NaN without one).
    pub energy: f64,
    /// Energies at the recording points reached (see [`FlowOptions::records`]).
    pub trace: Vec<f64>,
}
