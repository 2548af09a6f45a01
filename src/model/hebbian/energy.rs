//! The Hebbian layout ([`PreparedHebbian`]) as the engine's
//! [`EnergyModel`]: gaps and drives from the overlaps (or from fields kept
//! exact once flips are rare), flips as column updates, the energy from
//! the overlaps, blocks of caches and drives built together, and the
//! specialised Glauber sweep where the lane type has one.

use super::glauber::SpecialisedSweep;
use super::{add_scaled, rows, HebbianCache, Lane, PreparedHebbian};
use crate::engine::chain::Chain;
use crate::engine::energy::EnergyModel;
use crate::spins;

impl<L: Lane + SpecialisedSweep> EnergyModel for PreparedHebbian<'_, L> {
    type Cache = HebbianCache<L>;

    fn n(&self) -> usize {
        self.n
    }

    #[inline(always)]
    fn cache(&self, state: &[u64]) -> HebbianCache<L> {
        let mut m = vec![L::default(); self.p_pad];
        self.count_overlaps(&mut m, state);
        HebbianCache {
            m,
            m_stale: false,
            fields: Vec::new(),
            fields_valid: false,
            recording: false,
            budget: 0,
            pending: Vec::new(),
            scratch: Vec::new(),
            drives: Vec::new(),
            masking: false,
            weighted: self.weights_for_query(),
            dense: Vec::new(),
            dense_valid: false,
            narrow: Vec::new(),
            in_narrow: false,
            headroom: 0,
            deferred: false,
        }
    }

    /// Where the queries keep their fields by byte-weight rows, those
    /// fields, which the first sweep's mask needs, are computed here for
    /// the block, four queries at a time by the blocked kernel (each pattern
    /// pair loaded once for four), instead of one query at a time.
    #[inline(always)]
    fn descent_caches(&self, states: &[&[u64]]) -> Vec<HebbianCache<L>> {
        let mut caches = self.caches(states);
        let mut weighted = Vec::with_capacity(caches.len());
        let mut weighted_states = Vec::with_capacity(caches.len());
        for (cache, &state) in caches.iter_mut().zip(states) {
            if cache.weighted {
                weighted.push(cache);
                weighted_states.push(state);
            }
        }
        self.refresh_dense(&mut weighted, &weighted_states);
        caches
    }

    #[inline(always)]
    fn gap(&self, cache: &HebbianCache<L>, state: &[u64], i: usize) -> f64 {
        let a = match (cache.m_stale, cache.pending.is_empty()) {
            // Stale overlaps, flips applied: the byte-weight fields are exact.
            (true, true) => Self::dense_field(cache, i),
            // Stale overlaps and fields: from the state (never on a hot path).
            (true, false) => {
                let mut m = vec![L::default(); self.p_pad];
                self.count_overlaps(&mut m, state);
                self.projected(&m, i) - self.p as i64 * spins::spin(state, i) as i64
            }
            (false, _) => self.integer_field(cache, state, i),
        };
        2.0 * self.field_from_integer(a, i)
    }

    /// With zero thresholds the field's sign is that of the integer `A`
    /// (a nonzero integer over N never rounds to zero), which spares a
    /// division on the critical path of every async update.
    #[inline(always)]
    fn drive(&self, cache: &mut HebbianCache<L>, state: &[u64], i: usize) -> f64 {
        if cache.weighted {
            self.ensure_dense(cache, state);
            return self.drive_from_integer(Self::dense_field(cache, i), i);
        }
        if cache.fields_valid {
            self.apply_pending(cache);
            return self.drive_from_integer(cache.fields[i], i);
        }
        let a = self.integer_field(cache, state, i);
        if cache.recording {
            cache.fields[i] = a;
        }
        self.drive_from_integer(a, i)
    }

    /// From the second sweep on (the first flips ~every corrupted bit),
    /// record the fields (each exact when computed, then kept exact by
    /// weight rows while the flips stay within budget); after a recorded
    /// sweep every field is known, and later sweeps only read them.
    #[inline(always)]
    fn begin_sweep(&self, cache: &mut HebbianCache<L>, last_flips: Option<usize>) {
        if cache.weighted {
            // Fields kept exact from the first sweep on, flips applied at once.
            cache.deferred = false;
            return;
        }
        cache.masking = false;
        if cache.recording {
            cache.recording = false;
            cache.fields_valid = true;
        }
        if !cache.fields_valid && last_flips.is_some() {
            cache.recording = true;
            cache.fields.resize(self.n, 0);
        }
        cache.budget = self.incremental_limit();
    }

    /// Where the fields are known, or are about to be recorded (the
    /// sweep after the first), the neurons whose field disagrees with
    /// their spin. A recording sweep gets all its fields at once from the
    /// register-blocked kernel instead of one dot product per visit, and
    /// the driver then skips what cannot flip (a sweep from a fixed point
    /// entirely).
    #[inline(always)]
    fn unstable_neurons(
        &self,
        cache: &mut HebbianCache<L>,
        state: &[u64],
        mask: &mut [u64],
    ) -> bool {
        if cache.weighted {
            self.ensure_dense(cache, state);
            self.dense_mask(cache, state, mask);
            return true;
        }
        // A recording sweep begins, or tracking stopped (too many flips)
        // while the driver relies on the mask: every field afresh.
        if cache.recording || (!cache.fields_valid && cache.masking) {
            self.refresh_fields(cache, state);
        } else if cache.fields_valid {
            self.apply_pending(cache);
        } else {
            return false;
        }
        cache.masking = true;
        for (w, (word, &spins)) in mask.iter_mut().zip(state).enumerate() {
            let first = 64 * w;
            let mut bits = 0u64;
            for (b, &a) in cache.fields[first..self.n.min(first + 64)]
                .iter()
                .enumerate()
            {
                let d = self.drive_from_integer(a, first + b);
                let plus = (spins >> b) & 1 == 1;
                bits |= ((((d > 0.0) && !plus) || ((d < 0.0) && plus)) as u64) << b;
            }
            *word = bits;
        }
        true
    }

    #[inline(always)]
    fn flip(&self, cache: &mut HebbianCache<L>, state: &mut [u64], i: usize) {
        spins::flip(state, i);
        let new = spins::spin(state, i);
        if cache.weighted && cache.dense_valid {
            // The fields take the row now (async) or at the next step
            // (sync); the overlaps wait (m_stale).
            if cache.deferred {
                cache.pending.push((i as u32, new));
            } else {
                self.add_rows(cache, &[(i as u32, new)]);
            }
            cache.m_stale = true;
            return;
        }
        if cache.m_stale {
            self.fresh_overlaps(cache, state);
        } else {
            // m_μ += 2·new·ξ^μ_i; padding columns are 0, so padding stays 0.
            add_scaled(&mut cache.m, self.column(i), 2 * new);
        }
        if cache.weighted {
            return;
        }
        if cache.fields_valid || cache.recording {
            if cache.budget == 0 {
                cache.fields_valid = false;
                cache.recording = false;
                cache.pending.clear();
            } else if cache.recording {
                // Async: later decisions in this sweep read the fields now.
                cache.budget -= 1;
                self.add_weight_row(&mut cache.fields, &mut cache.scratch, i, new);
            } else {
                cache.budget -= 1;
                cache.pending.push((i as u32, new));
            }
        }
    }

    /// Branchless while no fields are tracked (always, in stochastic runs):
    /// the overlaps take `2·new·[flip]·ξ_i`, zero when nothing flips.
    #[inline(always)]
    fn flip_if(&self, cache: &mut HebbianCache<L>, state: &mut [u64], i: usize, flip: bool) {
        if cache.fields_valid || cache.recording || cache.dense_valid {
            if flip {
                self.flip(cache, state, i);
            }
            return;
        }
        state[i / 64] ^= (flip as u64) << (i % 64);
        let new = spins::spin(state, i);
        add_scaled(&mut cache.m, self.column(i), 2 * new * flip as i32);
    }

    #[inline(always)]
    fn glauber_block(
        &self,
        chains: &mut [Chain<HebbianCache<L>>],
        t: f64,
        repeated: bool,
        flips: &mut [usize],
    ) -> bool {
        L::sweep(self, chains, t, repeated, flips)
    }

    fn energy(&self, cache: &HebbianCache<L>, state: &[u64]) -> f64 {
        let squares = |m: &[L]| -> i128 {
            let squares: i128 = m[..self.p]
                .iter()
                .map(|&x| (x.to_i32() as i128).pow(2))
                .sum();
            squares - (self.p as i128) * (self.n as i128)
        };
        let integer = match (cache.m_stale, cache.pending.is_empty()) {
            // Σ_i s_i·A_i = Σ_μ m_μ² − P·N, from the exact fields.
            (true, true) if cache.in_narrow => rows::spin_sum16(&cache.narrow, state) as i128,
            (true, true) => rows::spin_sum(&cache.dense, state) as i128,
            // Flips wait for a synchronous step that did not come (a
            // cycle, the last step, a traced energy): overlaps afresh.
            (true, false) => {
                let mut m = vec![L::default(); self.p_pad];
                self.count_overlaps(&mut m, state);
                squares(&m)
            }
            (false, _) => squares(&cache.m),
        };
        let mut e = -(integer as f64) / (2 * self.n) as f64;
        if !self.zero_threshold {
            let theta_s: f64 = self
                .memory
                .threshold
                .iter()
                .enumerate()
                .map(|(i, &t)| t * spins::spin(state, i) as f64)
                .sum();
            e += theta_s;
        }
        e
    }

    #[inline(always)]
    fn drives(&self, cache: &mut HebbianCache<L>, state: &[u64], out: &mut [f64]) {
        self.drives_many(&mut [cache], &[state], &mut [out]);
    }

    /// Where every query keeps its fields by byte-weight rows: those rows
    /// (or the blocked kernel, after many flips), then the sign tests as
    /// bit masks, with no drives written.
    #[inline(always)]
    fn disagreements_many(
        &self,
        caches: &mut [&mut HebbianCache<L>],
        states: &[&[u64]],
        masks: &mut [&mut [u64]],
    ) -> bool {
        if !caches.iter().all(|c| c.weighted) {
            return false;
        }
        self.dense_update(caches, states);
        for ((cache, &state), mask) in caches.iter().zip(states).zip(masks.iter_mut()) {
            self.dense_mask(cache, state, mask);
        }
        true
    }

    /// Queries whose fields must be recomputed are done four at a time, so
    /// each neuron's pattern column is loaded once for four dot products.
    #[inline(always)]
    fn drives_many(
        &self,
        caches: &mut [&mut HebbianCache<L>],
        states: &[&[u64]],
        outs: &mut [&mut [f64]],
    ) {
        if caches.iter().any(|c| c.weighted) {
            self.dense_drives(caches, states, outs);
        }
        // Tracked fields take the rows of the flips since the last step.
        for cache in caches.iter_mut() {
            if cache.fields_valid && !cache.weighted {
                self.apply_pending(cache);
            }
        }
        let stale: Vec<usize> = (0..caches.len())
            .filter(|&q| !caches[q].fields_valid && !caches[q].weighted)
            .collect();
        // Queries whose drives the blocked kernel wrote with their fields.
        let mut written = vec![false; caches.len()];
        for group in stale.chunks(4) {
            // Pad a short group by repeating its first query.
            let pick = |k: usize| group[k.min(group.len() - 1)];
            let mut fields: Vec<Vec<i64>> = group
                .iter()
                .map(|&q| std::mem::take(&mut caches[q].fields))
                .collect();
            for f in fields.iter_mut() {
                f.resize(self.n, 0);
            }
            let ms: Vec<&[L]> = group.iter().map(|&q| caches[q].m.as_slice()).collect();
            let sts: Vec<&[u64]> = group.iter().map(|&q| states[q]).collect();
            let mut group_outs: Vec<&mut [f64]> = outs
                .iter_mut()
                .enumerate()
                .filter(|(q, _)| group.contains(q))
                .map(|(_, o)| &mut **o)
                .collect();
            if self.blocked_fields(&ms, &sts, &mut fields, &mut group_outs) {
                for &q in group {
                    written[q] = true;
                }
            } else {
                let ms = [0, 1, 2, 3].map(|k| caches[pick(k)].m.as_slice());
                let single = self.single_chunk;
                // i indexes the pattern columns and every query's fields at once.
                #[allow(clippy::needless_range_loop)]
                for i in 0..self.n {
                    let column = self.column(i);
                    let dots: [i64; 4] = if single {
                        L::dot4(ms, column).map(|d| d as i64)
                    } else {
                        ms.map(|m| self.projected(m, i))
                    };
                    for (k, &q) in group.iter().enumerate() {
                        fields[k][i] = dots[k] - self.p as i64 * spins::spin(states[q], i) as i64;
                    }
                }
            }
            for (f, &q) in fields.into_iter().zip(group) {
                caches[q].fields = f;
                caches[q].fields_valid = true;
                caches[q].recording = false;
                caches[q].pending.clear();
            }
        }
        for cache in caches.iter_mut() {
            cache.budget = self.incremental_limit();
        }
        // The same values as drive_from_integer, in loops that vectorise.
        let n = self.n as f64;
        for ((cache, out), &done) in caches.iter().zip(outs.iter_mut()).zip(&written) {
            if done || cache.weighted {
                continue;
            }
            if self.zero_threshold {
                for (g, &a) in out.iter_mut().zip(&cache.fields) {
                    *g = a as f64;
                }
            } else {
                for ((g, &a), &t) in out
                    .iter_mut()
                    .zip(&cache.fields)
                    .zip(&self.memory.threshold)
                {
                    *g = a as f64 / n - t;
                }
            }
        }
    }
}

impl<L: Lane + SpecialisedSweep> PreparedHebbian<'_, L> {
    /// The byte-weight fields of a `weighted` cache exact: computed afresh
    /// where they are not kept, else brought up to date with the flips
    /// waiting.
    #[inline(always)]
    fn ensure_dense(&self, cache: &mut HebbianCache<L>, state: &[u64]) {
        if !cache.dense_valid {
            self.refresh_dense(&mut [cache], &[state]);
        } else if !cache.pending.is_empty() {
            let pending = std::mem::take(&mut cache.pending);
            self.add_rows(cache, &pending);
            cache.pending = pending;
            cache.pending.clear();
        }
    }

    /// The exact integer field of neuron `i` of a `weighted` cache whose
    /// fields are valid.
    #[inline(always)]
    pub(super) fn dense_field(cache: &HebbianCache<L>, i: usize) -> i64 {
        if cache.in_narrow {
            cache.narrow[i] as i64
        } else {
            cache.dense[i] as i64
        }
    }

    /// The fields just written to `cache.dense` kept as 16-bit integers
    /// where a row fits on top of the largest.
    #[inline(always)]
    fn narrow_dense(&self, cache: &mut HebbianCache<L>) {
        let room = rows::headroom(rows::max_abs32(&cache.dense), self.p);
        cache.in_narrow = room > 0;
        if cache.in_narrow {
            cache.headroom = room;
            cache.narrow.clear();
            cache.narrow.extend(cache.dense.iter().map(|&a| a as i16));
        }
    }

    /// The rows of the flips `(j, new)` added to the exact fields of a
    /// `weighted` cache: in 16 bits while the headroom lasts (recounted from
    /// the fields when it runs out), else, once they outgrow 16 bits, in 32.
    #[inline(always)]
    fn add_rows(&self, cache: &mut HebbianCache<L>, flips: &[(u32, i32)]) {
        let mut rest = flips;
        while !rest.is_empty() {
            if cache.in_narrow && cache.headroom == 0 {
                cache.headroom = rows::headroom(rows::max_abs16(&cache.narrow), self.p);
                if cache.headroom == 0 {
                    cache.dense.clear();
                    cache.dense.extend(cache.narrow.iter().map(|&a| a as i32));
                    cache.in_narrow = false;
                }
            }
            if !cache.in_narrow {
                for &(j, new) in rest {
                    rows::add_row(&mut cache.dense, self.weight_row(j as usize), new);
                }
                return;
            }
            let now = rest.len().min(cache.headroom);
            rows::add_rows16(&mut cache.narrow, self.weight_rows(), self.n, &rest[..now]);
            cache.headroom -= now;
            rest = &rest[now..];
        }
    }

    /// The byte-weight fields of `caches` computed afresh from their
    /// overlaps, four queries at a time by the blocked kernel.
    #[inline(always)]
    pub(super) fn refresh_dense(&self, caches: &mut [&mut HebbianCache<L>], states: &[&[u64]]) {
        for (cache, &state) in caches.iter_mut().zip(states) {
            self.fresh_overlaps(cache, state);
        }
        for (group, sts) in caches.chunks_mut(4).zip(states.chunks(4)) {
            let mut fields: Vec<Vec<i32>> = group
                .iter_mut()
                .map(|c| std::mem::take(&mut c.dense))
                .collect();
            let ms: Vec<&[L]> = group.iter().map(|c| c.m.as_slice()).collect();
            let blocked = self.blocked_dense(&ms, sts, &mut fields);
            for ((c, f), &s) in group.iter_mut().zip(fields).zip(sts) {
                c.dense = if blocked {
                    f
                } else {
                    (0..self.n)
                        .map(|i| self.integer_field(c, s, i) as i32)
                        .collect()
                };
                self.narrow_dense(c);
                c.dense_valid = true;
                c.pending.clear();
            }
        }
    }

    /// [`unstable_neurons`](EnergyModel::unstable_neurons) from exact
    /// byte-weight fields.
    #[inline(always)]
    fn dense_mask(&self, cache: &HebbianCache<L>, state: &[u64], mask: &mut [u64]) {
        if self.zero_threshold {
            if cache.in_narrow {
                rows::disagree16(&cache.narrow, state, mask);
            } else {
                rows::disagree(&cache.dense, state, mask);
            }
            return;
        }
        for (w, (word, &spins)) in mask.iter_mut().zip(state).enumerate() {
            let first = 64 * w;
            let mut bits = 0u64;
            for b in 0..self.n.min(first + 64) - first {
                let a = Self::dense_field(cache, first + b);
                let d = self.drive_from_integer(a, first + b);
                let plus = (spins >> b) & 1 == 1;
                bits |= ((((d > 0.0) && !plus) || ((d < 0.0) && plus)) as u64) << b;
            }
            *word = bits;
        }
    }

    /// The fields of the `weighted` caches exact for a synchronous step
    /// (the others are left alone): a step after few flips takes their
    /// byte-weight rows, one after many (or the first) the blocked kernel.
    /// Later flips wait for the next step.
    #[inline(always)]
    fn dense_update(&self, caches: &mut [&mut HebbianCache<L>], states: &[&[u64]]) {
        let mut fresh = Vec::new();
        let mut fresh_states = Vec::new();
        for (cache, &state) in caches.iter_mut().zip(states) {
            if !cache.weighted {
                continue;
            }
            cache.deferred = true;
            if cache.dense_valid && cache.pending.len() <= self.rows_limit() {
                self.ensure_dense(cache, state);
            } else {
                cache.dense_valid = false;
                fresh.push(&mut **cache);
                fresh_states.push(state);
            }
        }
        self.refresh_dense(&mut fresh, &fresh_states);
    }

    /// [`drives_many`](EnergyModel::drives_many) for the `weighted` caches
    /// (the others are left alone), by [`dense_update`](Self::dense_update).
    #[inline(always)]
    fn dense_drives(
        &self,
        caches: &mut [&mut HebbianCache<L>],
        states: &[&[u64]],
        outs: &mut [&mut [f64]],
    ) {
        self.dense_update(caches, states);
        for (cache, out) in caches.iter().zip(outs.iter_mut()) {
            if !cache.weighted {
                continue;
            }
            if cache.in_narrow {
                self.write_drives(&cache.narrow, out);
            } else {
                self.write_drives(&cache.dense, out);
            }
        }
    }

    /// The drives of the integer fields `fields`, in the order of
    /// operations of [`drive_from_integer`](Self::drive_from_integer).
    #[inline(always)]
    fn write_drives<T: Copy + Into<i32>>(&self, fields: &[T], out: &mut [f64]) {
        if self.zero_threshold {
            for (g, &a) in out.iter_mut().zip(fields) {
                *g = a.into() as f64;
            }
        } else {
            let n = self.n as f64;
            for ((g, &a), &t) in out.iter_mut().zip(fields).zip(&self.memory.threshold) {
                *g = a.into() as f64 / n - t;
            }
        }
    }

    /// Every field of `state` exact and kept from now on: by the blocked
    /// kernel where it applies, else by one dot product per neuron.
    #[inline(always)]
    fn refresh_fields(&self, cache: &mut HebbianCache<L>, state: &[u64]) {
        let mut fields = [std::mem::take(&mut cache.fields)];
        fields[0].resize(self.n, 0);
        let mut drives = std::mem::take(&mut cache.drives);
        drives.resize(self.n, 0.0);
        let blocked = self.blocked_fields(
            &[cache.m.as_slice()],
            &[state],
            &mut fields,
            &mut [drives.as_mut_slice()],
        );
        let [mut fields] = fields;
        if !blocked {
            for (i, a) in fields.iter_mut().enumerate() {
                *a = self.integer_field(cache, state, i);
            }
        }
        cache.fields = fields;
        cache.drives = drives;
        cache.recording = false;
        cache.fields_valid = true;
        cache.pending.clear();
        cache.budget = self.incremental_limit();
    }

    /// The fields `h` (length N) of a state.
    pub fn fields(&self, state: &[u64], out: &mut [f64]) {
        let cache = self.cache(state);
        for (i, h) in out.iter_mut().enumerate() {
            *h = self.field_from_integer(self.integer_field(&cache, state, i), i);
        }
    }
}
