package dev.collector;

import java.time.Duration;

/**
 * A snapshot of a collector's position. The three positions are sequence numbers and always
 * satisfy {@code committed <= acknowledged <= fetched}.
 *
 * @param fetched the sequence of the next batch to fetch
 * @param acknowledged every batch below this sequence was acknowledged
 * @param committed every batch below this sequence is durably committed (the checkpoint)
 * @param inFlight fetched but not yet committed: {@code fetched - committed}, at most {@code
 *     capacity}
 * @param running delivered to a handler or a pull caller and not yet settled
 * @param waiting settled but waiting for an earlier batch (the out-of-order buffer)
 * @param capacity the active window's depth, or 0 when no run is active
 * @param oldestRunning how long the longest-running unsettled batch has been running, measured
 *     from the start of its current attempt (handler start, or delivery); zero if none runs
 * @param stuck running batches older than {@link CollectorOptions#stuckThreshold()}
 */
public record Progress(
    long fetched,
    long acknowledged,
    long committed,
    int inFlight,
    int running,
    int waiting,
    int capacity,
    Duration oldestRunning,
    int stuck) {

  /**
   * One line for logs, e.g. {@code fetched=120 acked=100 committed=96 inFlight=24/64 running=20
   * waiting=3 oldest=1.2s}, with {@code stuck=N} appended when some are.
   */
  @Override
  public String toString() {
    return "fetched=" + fetched
        + " acked=" + acknowledged
        + " committed=" + committed
        + " inFlight=" + inFlight + "/" + capacity
        + " running=" + running
        + " waiting=" + waiting
        + " oldest=" + formatSeconds(oldestRunning)
        + (stuck > 0 ? " stuck=" + stuck : "");
  }

  private static String formatSeconds(Duration d) {
    long millis = d.toMillis();
    return (millis / 1000) + "." + (millis % 1000) / 100 + "s";
  }
}
