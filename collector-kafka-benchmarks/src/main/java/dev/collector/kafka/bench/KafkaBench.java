package dev.collector.kafka.bench;

import dev.collector.kafka.KafkaCollector;
import dev.collector.kafka.KafkaCollectorOptions;
import dev.collector.kafka.Ordering;
import io.confluent.parallelconsumer.ParallelConsumerOptions;
import io.confluent.parallelconsumer.ParallelStreamProcessor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Collector (batch mode; record mode UNORDERED and KEY) vs Confluent Parallel Consumer (UNORDERED,
 * KEY) vs a plain consumer loop with a virtual thread per record and a commit per poll, on one
 * in-process broker: 200 000 records of 100 bytes, 8 partitions, 10 000 keys, a no-op and a 1 ms
 * handler. Records per second from the first poll until every record was handled; every system
 * gets a fresh consumer group and concurrency 64. Writes a Markdown table.
 */
public final class KafkaBench {

  private static final int RECORDS = 200_000;
  private static final int PARTITIONS = 8;
  private static final int CONCURRENCY = 64;

  private KafkaBench() {}

  interface Handler {
    void handle() throws InterruptedException;
  }

  interface Run {
    void run(String topic, String group, Handler handler, CountDownLatch done) throws Exception;
  }

  public static void main(String[] args) throws Exception {
    Path out = Path.of(args.length > 0 ? args[0] : "kafka-bench.md");
    try (BenchBroker broker = BenchBroker.start()) {
      String topic = "bench";
      try (Admin admin = Admin.create(Map.of("bootstrap.servers", broker.bootstrap))) {
        admin.createTopics(List.of(new NewTopic(topic, PARTITIONS, (short) 1))).all().get();
        Thread.sleep(1_000);
      }
      produce(broker.bootstrap, topic);
      Map<String, Run> systems = new LinkedHashMap<>();
      systems.put("Collector batch mode", (t, g, h, done) -> collector(broker, t, g, h, done, null));
      systems.put("Collector record UNORDERED",
          (t, g, h, done) -> collector(broker, t, g, h, done, Ordering.UNORDERED));
      systems.put("Collector record KEY",
          (t, g, h, done) -> collector(broker, t, g, h, done, Ordering.KEY));
      systems.put("Parallel Consumer UNORDERED", (t, g, h, done) -> parallelConsumer(broker, t, g,
          h, done, ParallelConsumerOptions.ProcessingOrder.UNORDERED));
      systems.put("Parallel Consumer KEY", (t, g, h, done) -> parallelConsumer(broker, t, g, h,
          done, ParallelConsumerOptions.ProcessingOrder.KEY));
      systems.put("raw loop (vthread per record, commit per poll)",
          (t, g, h, done) -> rawLoop(broker, t, g, h, done));
      Map<String, Handler> handlers = new LinkedHashMap<>();
      handlers.put("no-op", () -> {});
      handlers.put("1 ms", () -> Thread.sleep(1));
      Map<String, Map<String, Double>> results = new LinkedHashMap<>();
      int group = 0;
      for (var handler : handlers.entrySet()) {
        for (var system : systems.entrySet()) {
          double rate = measure(topic, "g" + group, system.getValue(), handler.getValue());
          group++;
          results.computeIfAbsent(system.getKey(), k -> new LinkedHashMap<>())
              .put(handler.getKey(), rate);
          System.out.printf("%-50s %-6s %,10.0f records/s%n", system.getKey(), handler.getKey(),
              rate);
        }
      }
      String table = table(results, handlers.keySet());
      System.out.println(table);
      Files.writeString(out, table);
    }
  }

  private static double measure(String topic, String group, Run run, Handler handler)
      throws Exception {
    AtomicLong handled = new AtomicLong();
    var done = new CountDownLatch(1);
    Handler counting = () -> {
      handler.handle();
      if (handled.incrementAndGet() == RECORDS) {
        done.countDown();
      }
    };
    long start = System.nanoTime();
    var runner = Thread.ofPlatform().start(() -> {
      try {
        run.run(topic, group, counting, done);
      } catch (Exception e) {
        e.printStackTrace();
        done.countDown();
      }
    });
    if (!done.await(300, TimeUnit.SECONDS)) {
      throw new IllegalStateException(group + ": only " + handled + " records handled");
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    runner.join(Duration.ofSeconds(60));
    return handled.get() < RECORDS ? Double.NaN : RECORDS / seconds;
  }

  private static Map<String, Object> consumerConfig(BenchBroker broker, String group) {
    Map<String, Object> config = new HashMap<>();
    config.put("bootstrap.servers", broker.bootstrap);
    config.put("group.id", group);
    config.put("auto.offset.reset", "earliest");
    config.put("enable.auto.commit", "false");
    return config;
  }

  private static void collector(BenchBroker broker, String topic, String group, Handler handler,
      CountDownLatch done, Ordering ordering) throws Exception {
    var options = KafkaCollectorOptions.builder().name(group).topics(topic).maxBatch(50, 1 << 20)
        .build();
    try (var collector = KafkaCollector.open(consumerConfig(broker, group),
        new StringDeserializer(), new StringDeserializer(), options)) {
      Thread.ofVirtual().start(() -> {
        try {
          done.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        collector.stop();
      });
      if (ordering == null) {
        collector.process(4 * CONCURRENCY, batch -> {
          for (int i = 0; i < batch.size(); i++) {
            handler.handle();
          }
        });
      } else {
        collector.processRecords(10_000, CONCURRENCY, ordering, r -> handler.handle());
      }
    }
  }

  private static void parallelConsumer(BenchBroker broker, String topic, String group,
      Handler handler, CountDownLatch done, ParallelConsumerOptions.ProcessingOrder order)
      throws Exception {
    var consumer = new KafkaConsumer<>(consumerConfig(broker, group), new StringDeserializer(),
        new StringDeserializer());
    var options = ParallelConsumerOptions.<String, String>builder()
        .ordering(order)
        .maxConcurrency(CONCURRENCY)
        .consumer(consumer)
        .commitMode(ParallelConsumerOptions.CommitMode.PERIODIC_CONSUMER_SYNC)
        .build();
    ParallelStreamProcessor<String, String> pc =
        ParallelStreamProcessor.createEosStreamProcessor(options);
    pc.subscribe(List.of(topic));
    pc.poll(context -> {
      try {
        handler.handle();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    });
    done.await();
    pc.close();
  }

  private static void rawLoop(BenchBroker broker, String topic, String group, Handler handler,
      CountDownLatch done) throws Exception {
    try (var consumer = new KafkaConsumer<>(consumerConfig(broker, group),
        new StringDeserializer(), new StringDeserializer());
        var threads = Executors.newVirtualThreadPerTaskExecutor()) {
      consumer.subscribe(List.of(topic));
      while (done.getCount() > 0) {
        var records = consumer.poll(Duration.ofMillis(10));
        if (records.isEmpty()) {
          continue;
        }
        var batch = new CountDownLatch(records.count());
        AtomicInteger failures = new AtomicInteger();
        for (int i = 0; i < records.count(); i++) {
          threads.execute(() -> {
            try {
              handler.handle();
            } catch (InterruptedException e) {
              failures.incrementAndGet();
            } finally {
              batch.countDown();
            }
          });
        }
        batch.await();
        consumer.commitSync();
      }
    }
  }

  private static void produce(String bootstrap, String topic) throws Exception {
    Map<String, Object> config = new HashMap<>();
    config.put("bootstrap.servers", bootstrap);
    config.put("linger.ms", 5);
    config.put("batch.size", 128 * 1024);
    String padding = "x".repeat(90);
    try (var producer = new KafkaProducer<>(config, new StringSerializer(),
        new StringSerializer())) {
      List<java.util.concurrent.Future<?>> sent = new ArrayList<>();
      for (int i = 0; i < RECORDS; i++) {
        sent.add(producer.send(new ProducerRecord<>(topic, "key-" + (i % 10_000),
            String.format("%08d", i) + padding)));
      }
      producer.flush();
      for (var f : sent) {
        f.get();
      }
    }
  }

  private static String table(Map<String, Map<String, Double>> results,
      Iterable<String> handlers) {
    StringBuilder t = new StringBuilder("| system |");
    List<String> hs = new ArrayList<>();
    handlers.forEach(hs::add);
    for (String h : hs) {
      t.append(' ').append(h).append(" (records/s) |");
    }
    t.append("\n| --- |");
    hs.forEach(h -> t.append(" --- |"));
    t.append('\n');
    results.forEach((system, rates) -> {
      t.append("| ").append(system).append(" |");
      for (String h : hs) {
        t.append(String.format(" %,.0f |", rates.getOrDefault(h, Double.NaN)));
      }
      t.append('\n');
    });
    return t.toString();
  }
}
