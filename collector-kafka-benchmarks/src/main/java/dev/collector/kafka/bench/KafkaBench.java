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
 * handler. Records per second from before the consumer is created until every record was handled
 * (total) and between the 10 % and the 90 % record (steady), the mean number of handlers busy and
 * the mean time per handler call; every system gets a fresh consumer group and concurrency 64
 * (batch mode: 256 batches). Repetitions are interleaved. Writes a Markdown table.
 */
public final class KafkaBench {

  private static final int RECORDS = 200_000;
  private static final int PARTITIONS = 8;
  private static final int CONCURRENCY = 64;

  /** Whether Collector runs sample their window's occupancy (progress()) every 2 ms. */
  private static volatile boolean sampleWindow;

  /** The last Collector run's window occupancy, when sampled. */
  private static volatile String windowSample = "";

  private KafkaBench() {}

  interface Handler {
    void handle() throws InterruptedException;
  }

  interface Run {
    void run(String topic, String group, Handler handler, CountDownLatch done) throws Exception;
  }

  /** One measurement of one system: the phases and how busy its handlers were. */
  record Sample(
      double rate, double firstMs, double steadyRate, double occupancy, double handlerMs) {}

  /**
   * Arguments: the output file, then optional {@code key=value}: {@code reps=N} (interleaved
   * repetitions, default 1), {@code handlers=no-op,1ms} (which handlers), {@code systems=a,b}
   * (substrings of system names to run), {@code warmup=N} (no-op passes over every system first,
   * not reported; default 0).
   */
  public static void main(String[] args) throws Exception {
    Path out = Path.of(args.length > 0 ? args[0] : "kafka-bench.md");
    Map<String, String> opts = new HashMap<>();
    for (int i = 1; i < args.length; i++) {
      String[] kv = args[i].split("=", 2);
      opts.put(kv[0], kv.length > 1 ? kv[1] : "");
    }
    int reps = Integer.parseInt(opts.getOrDefault("reps", "1"));
    int warmup = Integer.parseInt(opts.getOrDefault("warmup", "0"));
    List<String> wantHandlers = List.of(opts.getOrDefault("handlers", "no-op,1ms").split(","));
    String wantSystems = opts.getOrDefault("systems", "");
    sampleWindow = opts.containsKey("sample");
    try (BenchBroker broker = BenchBroker.start()) {
      String topic = "bench";
      try (Admin admin = Admin.create(Map.of("bootstrap.servers", broker.bootstrap))) {
        admin.createTopics(List.of(new NewTopic(topic, PARTITIONS, (short) 1))).all().get();
        Thread.sleep(1_000);
      }
      produce(broker.bootstrap, topic);
      Map<String, Run> systems = new LinkedHashMap<>();
      systems.put(
          "Collector batch mode", (t, g, h, done) -> collector(broker, t, g, h, done, null));
      systems.put(
          "Collector record UNORDERED",
          (t, g, h, done) -> collector(broker, t, g, h, done, Ordering.UNORDERED));
      systems.put(
          "Collector record KEY",
          (t, g, h, done) -> collector(broker, t, g, h, done, Ordering.KEY));
      systems.put(
          "Parallel Consumer UNORDERED",
          (t, g, h, done) ->
              parallelConsumer(
                  broker, t, g, h, done, ParallelConsumerOptions.ProcessingOrder.UNORDERED));
      systems.put(
          "Parallel Consumer KEY",
          (t, g, h, done) ->
              parallelConsumer(broker, t, g, h, done, ParallelConsumerOptions.ProcessingOrder.KEY));
      systems.put(
          "raw loop (vthread per record, commit per poll)",
          (t, g, h, done) -> rawLoop(broker, t, g, h, done));
      if (!wantSystems.isEmpty()) {
        systems
            .keySet()
            .removeIf(
                name -> java.util.Arrays.stream(wantSystems.split(",")).noneMatch(name::contains));
      }
      Map<String, Handler> handlers = new LinkedHashMap<>();
      handlers.put("no-op", () -> {});
      handlers.put("1ms", () -> Thread.sleep(1));
      handlers.keySet().retainAll(wantHandlers);
      int group = 0;
      for (int w = 0; w < warmup; w++) {
        for (var system : systems.entrySet()) {
          measure(topic, "w" + group++, system.getValue(), () -> {});
        }
      }
      // system -> handler -> samples, repetitions interleaved (every system once per round)
      Map<String, Map<String, List<Sample>>> results = new LinkedHashMap<>();
      for (var handler : handlers.entrySet()) {
        for (int rep = 0; rep < reps; rep++) {
          for (var system : systems.entrySet()) {
            Sample s = measure(topic, "g" + group++, system.getValue(), handler.getValue());
            results
                .computeIfAbsent(system.getKey(), k -> new LinkedHashMap<>())
                .computeIfAbsent(handler.getKey(), k -> new ArrayList<>())
                .add(s);
            System.out.printf(
                "%-48s %-5s rep %d: %,9.0f rec/s total, first record %,6.0f ms,"
                    + " steady %,9.0f rec/s, %5.1f handlers busy, %.3f ms per handler call%n",
                system.getKey(),
                handler.getKey(),
                rep + 1,
                s.rate(),
                s.firstMs(),
                s.steadyRate(),
                s.occupancy(),
                s.handlerMs());
            if (!windowSample.isEmpty()) {
              System.out.println("    window: " + windowSample);
              windowSample = "";
            }
          }
        }
      }
      String table = table(results, handlers.keySet(), reps);
      System.out.println(table);
      Files.writeString(out, table);
    }
  }

  private static Sample measure(String topic, String group, Run run, Handler handler)
      throws Exception {
    AtomicLong handled = new AtomicLong();
    AtomicLong first = new AtomicLong();
    AtomicLong at10 = new AtomicLong();
    AtomicLong at90 = new AtomicLong();
    java.util.concurrent.atomic.LongAdder busyNanos = new java.util.concurrent.atomic.LongAdder();
    var done = new CountDownLatch(1);
    Handler counting =
        () -> {
          long t0 = System.nanoTime();
          first.compareAndSet(0, t0);
          try {
            handler.handle();
          } finally {
            long t1 = System.nanoTime();
            busyNanos.add(t1 - t0);
            long n = handled.incrementAndGet();
            if (n == RECORDS / 10) {
              at10.set(t1);
            } else if (n == RECORDS * 9 / 10) {
              at90.set(t1);
            } else if (n == RECORDS) {
              done.countDown();
            }
          }
        };
    long start = System.nanoTime();
    var runner =
        Thread.ofPlatform()
            .start(
                () -> {
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
    long end = System.nanoTime();
    runner.join(Duration.ofSeconds(60));
    if (handled.get() < RECORDS) {
      return new Sample(Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
    }
    return new Sample(
        RECORDS / ((end - start) / 1e9),
        (first.get() - start) / 1e6,
        (RECORDS * 0.8) / ((at90.get() - at10.get()) / 1e9),
        busyNanos.sum() / (double) (end - first.get()),
        busyNanos.sum() / 1e6 / RECORDS);
  }

  private static Map<String, Object> consumerConfig(BenchBroker broker, String group) {
    Map<String, Object> config = new HashMap<>();
    config.put("bootstrap.servers", broker.bootstrap);
    config.put("group.id", group);
    config.put("auto.offset.reset", "earliest");
    config.put("enable.auto.commit", "false");
    return config;
  }

  private static void collector(
      BenchBroker broker,
      String topic,
      String group,
      Handler handler,
      CountDownLatch done,
      Ordering ordering)
      throws Exception {
    var options =
        KafkaCollectorOptions.builder().name(group).topics(topic).maxBatch(50, 1 << 20).build();
    try (var collector =
        KafkaCollector.open(
            consumerConfig(broker, group),
            new StringDeserializer(),
            new StringDeserializer(),
            options)) {
      Thread.ofVirtual()
          .start(
              () -> {
                try {
                  done.await();
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
                collector.stop();
              });
      if (sampleWindow) {
        Thread.ofVirtual().start(() -> sample(collector, done));
      }
      if (ordering == null) {
        collector.process(
            4 * CONCURRENCY,
            batch -> {
              for (int i = 0; i < batch.size(); i++) {
                handler.handle();
              }
            });
      } else {
        collector.processRecords(10_000, CONCURRENCY, ordering, r -> handler.handle());
      }
    }
  }

  /**
   * Means over the run, sampled every 2 ms while records are being handled: units uncommitted,
   * running, done but behind an unfinished unit of their partition (waiting), and the rest (handled
   * and committable, or queued).
   */
  private static void sample(KafkaCollector<?, ?> collector, CountDownLatch done) {
    long n = 0;
    double uncommitted = 0;
    double running = 0;
    double waiting = 0;
    try {
      while (!done.await(2, TimeUnit.MILLISECONDS)) {
        var p = collector.progress();
        if (p.handled() == 0) {
          continue;
        }
        n++;
        uncommitted += p.uncommitted();
        running += p.running();
        waiting += p.partitions().stream().mapToInt(pp -> pp.waiting()).sum();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (n > 0) {
      windowSample =
          String.format(
              "%d samples: uncommitted %.1f, running %.1f, done behind a"
                  + " running unit %.1f, committable or queued %.1f (units)",
              n, uncommitted / n, running / n, waiting / n, (uncommitted - running - waiting) / n);
    }
  }

  private static void parallelConsumer(
      BenchBroker broker,
      String topic,
      String group,
      Handler handler,
      CountDownLatch done,
      ParallelConsumerOptions.ProcessingOrder order)
      throws Exception {
    var consumer =
        new KafkaConsumer<>(
            consumerConfig(broker, group), new StringDeserializer(), new StringDeserializer());
    var options =
        ParallelConsumerOptions.<String, String>builder()
            .ordering(order)
            .maxConcurrency(CONCURRENCY)
            .consumer(consumer)
            .commitMode(ParallelConsumerOptions.CommitMode.PERIODIC_CONSUMER_SYNC)
            .build();
    ParallelStreamProcessor<String, String> pc =
        ParallelStreamProcessor.createEosStreamProcessor(options);
    pc.subscribe(List.of(topic));
    pc.poll(
        context -> {
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

  private static void rawLoop(
      BenchBroker broker, String topic, String group, Handler handler, CountDownLatch done)
      throws Exception {
    try (var consumer =
            new KafkaConsumer<>(
                consumerConfig(broker, group), new StringDeserializer(), new StringDeserializer());
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
          threads.execute(
              () -> {
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
    try (var producer =
        new KafkaProducer<>(config, new StringSerializer(), new StringSerializer())) {
      List<java.util.concurrent.Future<?>> sent = new ArrayList<>();
      for (int i = 0; i < RECORDS; i++) {
        sent.add(
            producer.send(
                new ProducerRecord<>(
                    topic, "key-" + (i % 10_000), String.format("%08d", i) + padding)));
      }
      producer.flush();
      for (var f : sent) {
        f.get();
      }
    }
  }

  private static String table(
      Map<String, Map<String, List<Sample>>> results, Iterable<String> handlers, int reps) {
    StringBuilder t = new StringBuilder();
    for (String h : handlers) {
      t.append("\n")
          .append(h)
          .append(" handler, ")
          .append(reps)
          .append(" repetition(s), mean ± sample standard deviation\n\n")
          .append(
              "| system | records/s (total) | first record (ms) | records/s (10%..90%)"
                  + " | handlers busy (mean) | ms per handler call |\n")
          .append("| --- | --- | --- | --- | --- | --- |\n");
      results.forEach(
          (system, byHandler) -> {
            List<Sample> samples = byHandler.getOrDefault(h, List.of());
            t.append("| ")
                .append(system)
                .append(" | ")
                .append(stat(samples, Sample::rate, "%,.0f"))
                .append(" | ")
                .append(stat(samples, Sample::firstMs, "%,.0f"))
                .append(" | ")
                .append(stat(samples, Sample::steadyRate, "%,.0f"))
                .append(" | ")
                .append(stat(samples, Sample::occupancy, "%.1f"))
                .append(" | ")
                .append(stat(samples, Sample::handlerMs, "%.3f"))
                .append(" |\n");
          });
      ratio(t, results, h, "Collector record KEY", "Parallel Consumer KEY");
      ratio(t, results, h, "Collector record UNORDERED", "Parallel Consumer UNORDERED");
      ratio(
          t, results, h, "Collector batch mode", "raw loop (vthread per record, commit per poll)");
    }
    return t.toString();
  }

  /** The ratio of two systems' rates per repetition (same round), as mean ± deviation. */
  private static void ratio(
      StringBuilder t,
      Map<String, Map<String, List<Sample>>> results,
      String handler,
      String a,
      String b) {
    List<Sample> as = results.getOrDefault(a, Map.of()).getOrDefault(handler, List.of());
    List<Sample> bs = results.getOrDefault(b, Map.of()).getOrDefault(handler, List.of());
    if (as.isEmpty() || as.size() != bs.size()) {
      return;
    }
    List<Sample> total = new ArrayList<>();
    List<Sample> steady = new ArrayList<>();
    for (int i = 0; i < as.size(); i++) {
      total.add(new Sample(as.get(i).rate() / bs.get(i).rate(), 0, 0, 0, 0));
      steady.add(new Sample(as.get(i).steadyRate() / bs.get(i).steadyRate(), 0, 0, 0, 0));
    }
    t.append("\n")
        .append(a)
        .append(" / ")
        .append(b)
        .append(": ")
        .append(stat(total, Sample::rate, "%.2f"))
        .append("× total, ")
        .append(stat(steady, Sample::rate, "%.2f"))
        .append("× steady (10%..90%)\n");
  }

  private static String stat(
      List<Sample> samples, java.util.function.ToDoubleFunction<Sample> f, String format) {
    if (samples.isEmpty()) {
      return "-";
    }
    double[] v = samples.stream().mapToDouble(f).toArray();
    double mean = java.util.Arrays.stream(v).average().orElse(Double.NaN);
    if (v.length < 2) {
      return String.format(format, mean);
    }
    double var =
        java.util.Arrays.stream(v).map(x -> (x - mean) * (x - mean)).sum() / (v.length - 1);
    return String.format(format, mean) + " ± " + String.format(format, Math.sqrt(var));
  }
}
