package dev.collector.kafka;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;

/**
 * The runnable two-member example ({@code ./mvnw -q -pl collector-api,collector-kafka -am
 * -Pkafka-demo verify -DskipTests}): starts a broker in this JVM, produces a topic, runs member A
 * in a child JVM and member B here, in one consumer group; kills A with SIGKILL halfway and shows B
 * take over A's partitions, with the records each handled and how many B handled again (A had
 * handled them but not committed yet).
 */
public final class KafkaDemo {

  private KafkaDemo() {}

  public static void main(String[] args) throws Exception {
    int partitions = 6;
    int records = 60_000;
    try (Broker broker = Broker.start()) {
      String topic = "demo";
      String group = "demo-group";
      Kit.createTopic(broker, topic, partitions);
      long total = Kit.produce(broker, topic, records, i -> "customer-" + (i % 1_000));
      System.out.printf(
          "broker at %s; topic '%s' with %d partitions, %d records%n",
          broker.bootstrap(), topic, partitions, total);

      Path dir = Files.createTempDirectory("kafka-demo");
      Path handledByA = dir.resolve("a.txt");
      Process a =
          new ProcessBuilder(
                  Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                  "-cp",
                  System.getProperty("java.class.path"),
                  "-Dorg.slf4j.simpleLogger.defaultLogLevel=error",
                  CrashChild.class.getName(),
                  broker.bootstrap(),
                  topic,
                  group,
                  handledByA.toString(),
                  "16",
                  "50")
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .redirectError(dir.resolve("a.log").toFile())
              .start();
      long started = System.nanoTime();
      while (handled(handledByA).total() == 0
          && a.isAlive()
          && System.nanoTime() - started < Duration.ofSeconds(60).toNanos()) {
        Thread.sleep(50);
      }
      if (!a.isAlive() || handled(handledByA).total() == 0) {
        throw new IllegalStateException("member A did not start; see " + dir.resolve("a.log"));
      }
      System.out.println("member A (child JVM) is consuming; starting member B here");

      Map<TopicPartition, BitSet> byB = new ConcurrentHashMap<>();
      AtomicLong handledB = new AtomicLong();
      var options =
          KafkaCollectorOptions.builder().name("B").topics(topic).maxBatch(50, 1 << 20).build();
      var config = Kit.consumerConfig(broker.bootstrap(), group, "classic");
      try (var b = Kit.open(config, options, Committer.CommitObserver.NONE);
          var runs = Executors.newVirtualThreadPerTaskExecutor()) {
        var run =
            runs.submit(
                () ->
                    b.process(
                        16,
                        batch -> {
                          Thread.sleep(2); // some I/O per batch
                          for (ConsumerRecord<String, String> r : batch.records()) {
                            BitSet set =
                                byB.computeIfAbsent(
                                    new TopicPartition(r.topic(), r.partition()),
                                    k -> new BitSet());
                            synchronized (set) {
                              set.set((int) r.offset());
                            }
                          }
                          handledB.addAndGet(batch.size());
                        }));
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (handled(handledByA).total() + handledB.get() < total / 2
            && System.nanoTime() < deadline) {
          Thread.sleep(100);
          System.out.printf(
              "  A handled %6d   B handled %6d   B owns %s%n",
              handled(handledByA).total(), handledB.get(), owned(b));
        }
        a.destroyForcibly().waitFor(10, TimeUnit.SECONDS); // SIGKILL: no commit, no leave
        Handled beforeKill = handled(handledByA);
        System.out.printf(
            "killed A (SIGKILL) after it handled %d records; B owns %s%n",
            beforeKill.total(), owned(b));
        long killedAt = System.nanoTime();
        Set<Integer> before = owned(b);
        while (owned(b).size() < partitions && System.nanoTime() < deadline + 30_000_000_000L) {
          Thread.sleep(100);
        }
        System.out.printf(
            "B took over A's partitions %s after %.1f s (session timeout 6 s)%n",
            difference(owned(b), before), (System.nanoTime() - killedAt) / 1e9);
        while (Kit.committed(broker, group).values().stream().mapToLong(Long::longValue).sum()
                < total
            && System.nanoTime() < deadline + 60_000_000_000L) {
          Thread.sleep(100);
        }
        b.stop();
        System.out.println("B: " + run.get());
        long replayed = 0;
        for (var e : beforeKill.offsets().entrySet()) {
          BitSet again = (BitSet) byB.getOrDefault(e.getKey(), new BitSet()).clone();
          again.and(e.getValue());
          replayed += again.cardinality();
        }
        System.out.printf(
            "done: A handled %d, B handled %d, %d of them again after A's"
                + " crash (handled by A, not yet committed: at most depth 16 x 50); committed %s%n",
            beforeKill.total(), handledB.get(), replayed, Kit.committed(broker, group));
      }
    }
  }

  private record Handled(long total, Map<TopicPartition, BitSet> offsets) {}

  private static Handled handled(Path file) throws java.io.IOException {
    Map<TopicPartition, BitSet> offsets = new HashMap<>();
    long total = 0;
    {
      for (String line : KillNineTest.lines(file)) {
        String[] parts = line.split(" ");
        BitSet set =
            offsets.computeIfAbsent(
                new TopicPartition("demo", Integer.parseInt(parts[0])), k -> new BitSet());
        for (int i = 1; i < parts.length; i++) {
          set.set(Integer.parseInt(parts[i]));
          total++;
        }
      }
    }
    return new Handled(total, offsets);
  }

  private static Set<Integer> owned(KafkaCollector<?, ?> collector) {
    Set<Integer> owned = new TreeSet<>();
    collector.progress().partitions().forEach(p -> owned.add(p.partition()));
    return owned;
  }

  private static Set<Integer> difference(Set<Integer> a, Set<Integer> b) {
    Set<Integer> d = new TreeSet<>(a);
    d.removeAll(b);
    return d;
  }
}
