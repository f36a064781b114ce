//! Per-operation cost of the core's hot paths. Prints a table; run with
//! `cargo bench -p lamina-core`.
//!
//! A plain timing loop rather than criterion keeps the dependency tree small; each figure is the
//! median of 15 batches, each batch long enough (≥ 20 ms) for the clock to be meaningful.

use std::hint::black_box;
use std::time::{Duration, Instant};

use lamina_core::response::{Decoder, Limits, Status};
use lamina_core::{
    Action, Answer, Config, Context, Driver, Endpoint, Input, Lane, Now, Options, request,
};

const NEXT: &[u8] = b"HTTP/1.1 200 OK\r\n\
Content-Type: application/json\r\n\
Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n\
Lambda-Runtime-Deadline-Ms: 1542409706888\r\n\
Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-2:123456789012:function:custom-runtime\r\n\
Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n\
Date: Fri, 16 Nov 2018 22:21:46 GMT\r\n\
Content-Length: 17\r\n\r\n{\"name\":\"World\"}\n";

fn measure(name: &str, mut f: impl FnMut()) {
    // Calibrate a batch size that runs for at least 20 ms.
    let mut iters: u64 = 1;
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        if t.elapsed() >= Duration::from_millis(20) {
            break;
        }
        iters *= 2;
    }
    let mut samples: Vec<f64> = (0..15)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    println!("| {name:<44} | {:>9.1} | {:>9.1} |", samples[7], samples[0]);
}

fn main() {
    let ep = Endpoint::parse("127.0.0.1:9001").unwrap();
    let mut out = [0u8; 1024];
    println!("| operation                                    | median ns |    min ns |");
    println!("|----------------------------------------------|-----------|-----------|");

    measure("encode GET /next", || {
        black_box(request::next(black_box(&ep), &mut out).unwrap());
    });

    let mut buf = NEXT.to_vec();
    let mut dec = Decoder::new(Limits::NEXT);
    measure("decode /next response (framing only)", || {
        let Ok(Status::Complete(m)) = dec.advance(black_box(&mut buf)) else {
            panic!()
        };
        black_box(m);
    });

    let mut ctx = Context::default();
    let head_len = NEXT.len() - 17;
    measure("decode /next head into Context", || {
        black_box(ctx.decode(black_box(&NEXT[..head_len])).unwrap());
    });

    let config =
        Config::from_lookup(|n| (n == "AWS_LAMBDA_RUNTIME_API").then_some("127.0.0.1:9001"))
            .unwrap();
    let mut lanes = [Lane::default()];
    let mut d = Driver::new(config, Options::default(), &mut lanes).unwrap();
    let _ = d.poll_action();
    d.phase_done().unwrap();
    let now = Now {
        instant: lamina_core::Instant::from_millis(1),
        unix_ms: 1_542_409_700_000,
    };
    let accepted = b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n".to_vec();
    let mut acc = accepted.clone();
    measure("driver: next + decode + respond + accepted", || {
        let t = d.poll_transmit(0, now, &mut out).unwrap().unwrap();
        let _ = black_box(t);
        d.transmitted(0, now);
        assert_eq!(d.handle_input(0, &mut buf, now), Input::Done);
        let Some(Action::Invoke { .. }) = d.poll_action() else {
            panic!()
        };
        let answer = Answer::Response {
            content_type: "application/json",
            len: 14,
        };
        d.submit(0, answer, &mut out).unwrap();
        let _ = black_box(d.poll_transmit(0, now, &mut out).unwrap().unwrap());
        d.transmitted(0, now);
        assert_eq!(d.handle_input(0, &mut acc, now), Input::Done);
    });

    let id = lamina_core::Id::new(b"8476a536-e9f4-11e8-9739-2dfe598c3fcd").unwrap();
    measure("encode /response head", || {
        black_box(
            request::response_head(&ep, &id, None, "application/json", 14, &mut out).unwrap(),
        );
    });
    measure("encode /error (head + JSON body)", || {
        let target = request::ErrorTarget::Invocation {
            request_id: &id,
            invocation_id: None,
        };
        black_box(
            request::error(
                &ep,
                target,
                "MyError",
                "something \"bad\" happened",
                &mut out,
            )
            .unwrap(),
        );
    });
}
