use std::time::Instant;
fn main() {
    let n = 1024usize;
    let p = 128usize;
    let cols: Vec<i16> = (0..n * p)
        .map(|i| if (i * 7919) % 3 == 0 { 1 } else { -1 })
        .collect();
    let m: Vec<i16> = (0..p).map(|i| (i as i16) * 3 - 100).collect();
    let reps = 20000;
    let t = Instant::now();
    let mut total = 0i64;
    for r in 0..reps {
        for i in 0..n {
            let c = &cols[i * p..(i + 1) * p];
            let d = hopfield::kernels::dot_i16(&m, c) as i64;
            total += if d > (r as i64 & 3) { 1 } else { 0 };
        }
    }
    let el = t.elapsed().as_secs_f64();
    println!("{total} {:.2} ns per dot", el / (reps * n) as f64 * 1e9);
}
