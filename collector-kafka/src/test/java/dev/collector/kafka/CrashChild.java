package dev.collector.kafka;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * The child JVM of {@link KillNineTest}: consumes with a collector in batch mode and appends one
 * line per handled batch ({@code partition offset offset ...}) to its own file before the handler
 * returns, until it is killed. Static group membership lets the restarted child take over its
 * predecessor's partitions at once.
 */
public final class CrashChild {

  private CrashChild() {}

  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String topic = args[1];
    String group = args[2];
    Path handled = Path.of(args[3]);
    int depth = Integer.parseInt(args[4]);
    int maxBatch = Integer.parseInt(args[5]);
    Map<String, Object> config = Kit.consumerConfig(bootstrap, group, "classic");
    config.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "crash-child");
    var options =
        KafkaCollectorOptions.builder()
            .name("child")
            .topics(topic)
            .maxBatch(maxBatch, 1 << 20)
            .commitInterval(Duration.ofMillis(20))
            .build();
    var lock = new ReentrantLock();
    try (FileChannel out =
            FileChannel.open(
                handled,
                StandardOpenOption.CREATE,
                StandardOpenOption.WRITE,
                StandardOpenOption.APPEND);
        var collector = Kit.open(config, options, Committer.CommitObserver.NONE)) {
      collector.process(
          depth,
          batch -> {
            StringBuilder line = new StringBuilder().append(batch.records().get(0).partition());
            for (ConsumerRecord<String, String> r : batch.records()) {
              line.append(' ').append(r.offset());
            }
            line.append('\n');
            Thread.sleep(1 + (batch.sequence() % 3)); // some I/O time, so batches overlap
            lock.lock();
            try {
              out.write(ByteBuffer.wrap(line.toString().getBytes(StandardCharsets.UTF_8)));
            } finally {
              lock.unlock();
            }
          });
    }
  }
}
