//! glibc's `rand()`, so that randconfig with `KCONFIG_SEED` draws the same
//! numbers as the C conf built against glibc.
//!
//! The generator is glibc's default TYPE_3 additive feedback generator:
//! 31 words of state seeded by a Lehmer sequence (`srandom_r`), 310 draws
//! discarded, then `r[i] = r[i-3] + r[i-31]` with the output `r[i] >> 1`.

pub struct GlibcRand {
    state: [i32; 34],
    f: usize,
    r: usize,
}

impl GlibcRand {
    /// `srand(seed)`.
    pub fn new(seed: u32) -> GlibcRand {
        let mut state = [0i32; 34];
        let mut word: i32 = if seed == 0 { 1 } else { seed as i32 };
        state[0] = word;
        for slot in state.iter_mut().take(31).skip(1) {
            let hi = word / 127_773;
            let lo = word % 127_773;
            word = 16_807i32
                .wrapping_mul(lo)
                .wrapping_sub(2_836i32.wrapping_mul(hi));
            if word < 0 {
                word = word.wrapping_add(2_147_483_647);
            }
            *slot = word;
        }
        let mut g = GlibcRand { state, f: 3, r: 0 };
        for _ in 0..310 {
            g.next_i32();
        }
        g
    }

    /// `rand()`: a value in `0..=RAND_MAX` (2^31 - 1).
    pub fn next_i32(&mut self) -> i32 {
        let v = self.state[self.f].wrapping_add(self.state[self.r]);
        self.state[self.f] = v;
        let out = ((v as u32) >> 1) as i32;
        self.f += 1;
        if self.f >= 31 {
            self.f = 0;
            self.r += 1;
        } else {
            self.r += 1;
            if self.r >= 31 {
                self.r = 0;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::GlibcRand;

    #[test]
    fn matches_glibc_for_seed_1() {
        // The first outputs of glibc's rand() after srand(1), a widely
        // published sequence.
        let mut g = GlibcRand::new(1);
        let got: Vec<i32> = (0..5).map(|_| g.next_i32()).collect();
        assert_eq!(
            got,
            vec![1804289383, 846930886, 1681692777, 1714636915, 1957747793]
        );
    }
}
