//! An SQS function reporting partial batch failures, on lamina's mio transport.
fn main() {
    lamina_mio::run(lamina_aws_events::sqs_batch)
}
