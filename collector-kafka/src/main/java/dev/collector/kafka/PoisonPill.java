package dev.collector.kafka;

import dev.collector.Checkpoint;
import dev.collector.SourceException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.errors.RecordDeserializationException;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.jspecify.annotations.Nullable;

/**
 * A record the deserializer could not read (a poison pill): what the run fails with when there is
 * no dead-letter handler, and the raw record a dead-letter handler gets instead.
 */
final class PoisonPill {

  /*
   * Invariant: a poison pill is never skipped silently. Kafka's consumer hands out the records
   * before it and then throws RecordDeserializationException on every poll until the partition
   * is seeked past it. With a dead-letter handler (process/processRecords) the poll loop
   * dispatches the pill as a unit of its own -- one ConsumerRecord<byte[], byte[]> with the raw
   * key, value and headers from the exception -- and seeks past it; the unit is never given to
   * the user's handler, it goes straight to the dead-letter handler, and its offset is committed
   * only once that returned, in order like any unit. Without one (and always in the pull API,
   * whose callers expect their own record type) the run stops dispatching, lets what was
   * dispatched before the pill finish and commit (bounded by drainTimeout), and fails with a
   * SourceException naming topic, partition and offset.
   */

  private PoisonPill() {}

  /** The failure of a run that met a poison pill and has no dead-letter handler for it. */
  static SourceException failure(
      String name, RecordDeserializationException e, Checkpoint committed) {
    return new SourceException(
        name,
        e.offset(),
        committed,
        new IllegalStateException(
            "the deserializer could not read the record at offset "
                + e.offset()
                + " of topic '"
                + e.topicPartition().topic()
                + "' partition "
                + e.topicPartition().partition()
                + " (a poison pill); the records before it were handled and committed. Give the"
                + " collector a dead-letter policy (FailurePolicy...thenDeadLetter) to set such"
                + " records aside, or a deserializer that tolerates them",
            e));
  }

  /** The pill as a unit for the dead-letter handler: its raw bytes, never deserialized. */
  static WorkUnit unit(
      PartitionTrack track, RecordDeserializationException e, @Nullable Ordering ordering) {
    byte[] key = bytes(e.keyBuffer());
    byte[] value = bytes(e.valueBuffer());
    ConsumerRecord<byte[], byte[]> record =
        new ConsumerRecord<>(
            e.topicPartition().topic(),
            e.topicPartition().partition(),
            e.offset(),
            e.timestamp(),
            e.timestampType(),
            key == null ? -1 : key.length,
            value == null ? -1 : value.length,
            key,
            value,
            e.headers() == null ? new RecordHeaders() : e.headers(),
            Optional.empty());
    Object lane = ordering == null ? null : Lanes.laneOf(ordering, track, record);
    return new WorkUnit(track, List.of(record), lane, e);
  }

  private static byte @Nullable [] bytes(@Nullable ByteBuffer buffer) {
    if (buffer == null) {
      return null;
    }
    ByteBuffer copy = buffer.duplicate();
    byte[] bytes = new byte[copy.remaining()];
    copy.get(bytes);
    return bytes;
  }
}
