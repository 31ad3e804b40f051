//! `tamis bench gpu`: the GPU encoder beside the CPU one (batch 1 and 32), and GPU memory
//! over many calls. On a software adapter (lavapipe) the GPU figures are for tracking only;
//! the same command runs unchanged on a machine with a real GPU.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use tamis_core::Encoder;
use tamis_gpu::GpuEncoder;
use tamis_model::{ModelBundle, TractEncoder};

use super::embed::{ms_per_text, peak_rss_mib, status_mib};
use crate::error::CliError;

fn per_call_and_batched<E: Encoder>(
    encoder: &E,
    texts: &[&str],
    batch: usize,
) -> Result<[f64; 2], CliError>
where
    CliError: From<E::Error>,
{
    let one = ms_per_text(texts, |texts| {
        texts.iter().try_for_each(|text| {
            encoder.embed(&[text])?;
            Ok(())
        })
    })?;
    let batched = ms_per_text(texts, |texts| {
        texts.chunks(batch).try_for_each(|chunk| {
            encoder.embed(chunk)?;
            Ok(())
        })
    })?;
    Ok([one, batched])
}

/// Prints the comparison and the memory curve as markdown.
pub fn bench_gpu(
    model_dir: &Path,
    texts: &[String],
    batch: usize,
    calls: usize,
) -> Result<String, CliError> {
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let bundle = ModelBundle::read_dir(model_dir)?;
    let cpu = TractEncoder::new(&bundle)?;
    let start = Instant::now();
    let gpu = GpuEncoder::new(&bundle)?;
    let gpu_load_ms = start.elapsed().as_secs_f64() * 1000.0;
    let adapter = gpu.adapter();
    let mut out = format!(
        "tamis bench gpu: {} texts; GPU: {} ({}{}), loaded in {gpu_load_ms:.0} ms\n\
         | encoder | ms per text, one per call | ms per text, {batch} per call |\n|---|---:|---:|\n",
        texts.len(),
        adapter.name,
        adapter.backend,
        if adapter.fallback { ", software/fallback adapter" } else { "" },
    );
    let [cpu_one, cpu_batched] = per_call_and_batched(&cpu, &texts, batch)?;
    let [gpu_one, gpu_batched] = per_call_and_batched(&gpu, &texts, batch)?;
    let _ = writeln!(
        out,
        "| CPU (tract, one thread) | {cpu_one:.2} | {cpu_batched:.2} |"
    );
    let _ = writeln!(out, "| GPU (wgpu) | {gpu_one:.2} | {gpu_batched:.2} |");
    let _ = writeln!(
        out,
        "\nGPU memory over {calls} embed calls (one text each, cycling through the texts):\n\
         | calls | GPU buffers (MiB) | process RSS (MiB) |\n|---:|---:|---:|"
    );
    let mib = |bytes: u64| bytes as f64 / f64::from(1 << 20);
    let every = (calls / 10).max(1);
    for call in 1..=calls {
        gpu.embed(&[texts[call % texts.len()]])?;
        if call % every == 0 || call == 1 {
            let rss = status_mib("VmRSS:").map_or("n/a".into(), |m| format!("{m:.0}"));
            let _ = writeln!(
                out,
                "| {call} | {:.1} | {rss} |",
                mib(gpu.gpu_memory_bytes())
            );
        }
    }
    if let Some(peak) = peak_rss_mib() {
        let _ = writeln!(out, "peak RSS (both encoders): {peak:.0} MiB");
    }
    Ok(out)
}
