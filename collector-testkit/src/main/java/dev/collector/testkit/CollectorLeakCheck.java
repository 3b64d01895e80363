package dev.collector.testkit;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import com.sun.management.HotSpotDiagnosticMXBean;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * A JUnit 5 extension that fails a test if it left a collector thread alive (a collector or pull
 * session left open, a handler that outlived its run), and injects a fresh {@link
 * CompletionController} into test methods that declare one.
 *
 * {@snippet class=dev.collector.core.TestkitJavadocExamplesTest region=collectorLeakCheck}
 *
 * <p><b>Which test is blamed.</b> Each test is compared with itself: the collector threads alive
 * before it are taken, and only threads that appeared during the test and are still alive after it
 * fail it. A leak in one test therefore fails that test only, never the tests after it.
 *
 * <p><b>Tests running in parallel.</b> A thread dump cannot tell which of two concurrently running
 * tests opened a collector, so a test that overlapped another one is never blamed on its own. The
 * extension counts the tests running at once (across all test classes of the JUnit run); tests that
 * overlap, directly or through a chain of overlapping tests, form a group. A test that ran alone is
 * checked as above. A test of a group passes the check when others of its group are still running;
 * when the last one of the group ends, collector threads that appeared since the first one of the
 * group started and are still alive fail that last test, once, with a message naming every test of
 * the group as a candidate. So a leak never fails an innocent overlapping test on its own, and is
 * never lost; run the named tests alone to find the leaker.
 *
 * <p><b>What a collector thread is.</b> Not a name: a thread whose stack runs the collector's own
 * run code ({@code dev.collector.core} classes {@code ProcessRun}, {@code BatchRunner}, {@code
 * Committer}, {@code Fetcher}, {@code PullSession}, {@code Watchdog}, {@code StructuredScope}),
 * found in a JDK thread dump that also lists virtual threads. An application thread named {@code
 * billing-watchdog} is not one. A thread still inside {@code process()} (a test's background run
 * left running) counts too.
 */
public final class CollectorLeakCheck
    implements BeforeEachCallback, AfterEachCallback, ParameterResolver {

  private static final Pattern THREAD =
      Pattern.compile(
          "\"tid\": \"?(\\d+)\"?,.*?\"name\": \"((?:[^\"\\\\]|\\\\.)*)\",.*?\"stack\": \\[(.*?)\\]",
          Pattern.DOTALL);
  private static final Pattern COLLECTOR_FRAME =
      Pattern.compile(
          "dev\\.collector\\.core\\.(?:ProcessRun|BatchRunner|Committer|Fetcher"
              + "|PullSession|Watchdog|StructuredScope)[.$]");
  private static final ExtensionContext.Namespace NAMESPACE =
      ExtensionContext.Namespace.create(CollectorLeakCheck.class);

  /** How long a thread that is ending anyway may take to leave the dump. */
  private static final long GRACE_NANOS = 2_000_000_000L;

  /**
   * A collector thread in a thread dump.
   *
   * <p><b>A closed record: exactly these two components, forever</b> (ADR 0008). A thread in a dump
   * is named by its id and its name; anything more about it (its stack, its state) would be a new
   * method or a new type, never a component, so tests may deconstruct it ({@code case
   * CollectorThread(long id, String name)}).
   *
   * @param id the thread id
   * @param name the thread's name
   */
  public record CollectorThread(long id, String name) {}

  /** Creates the extension; JUnit does this for {@code @ExtendWith}. */
  public CollectorLeakCheck() {}

  /** Used when the context has no root to share state through (a hand-made context). */
  private final Tests local = new Tests();

  /** The tests running now, shared by every instance of the extension in one JUnit run. */
  static final class Tests {
    private final ReentrantLock lock = new ReentrantLock();

    @GuardedBy("lock")
    private @Nullable Group group;
  }

  /** Tests that overlapped, directly or through a chain of overlapping tests. */
  private static final class Group {
    /** The collector threads alive before the first test of the group started. */
    final Set<Long> baseline;

    // members and running are guarded by the lock of the Tests that made this group (every
    // access is under tests.lock). Not @GuardedBy: the annotation can only name a lock that is
    // reachable from this class, and the Tests is not.
    final List<String> members = new ArrayList<>();
    int running;

    Group(Set<Long> baseline) {
      this.baseline = baseline;
    }
  }

  /** What a running test keeps in its store. */
  private record Started(Set<Long> before, Group group) {}

  private Tests tests(ExtensionContext context) {
    ExtensionContext root;
    try {
      root = context.getRoot();
    } catch (UnsupportedOperationException e) {
      return local; // a hand-made context: this instance's own state
    }
    return root.getStore(NAMESPACE)
        .getOrComputeIfAbsent(Tests.class, k -> new Tests(), Tests.class);
  }

  @Override
  public void beforeEach(ExtensionContext context) {
    Set<Long> before =
        collectorThreads().stream().map(CollectorThread::id).collect(Collectors.toSet());
    Tests tests = tests(context);
    Group group;
    tests.lock.lock();
    try {
      group = tests.group;
      if (group == null || group.running == 0) {
        group = new Group(before);
        tests.group = group;
      }
      group.running++;
      group.members.add(context.getDisplayName());
    } finally {
      tests.lock.unlock();
    }
    context.getStore(NAMESPACE).put(context.getUniqueId(), new Started(before, group));
  }

  @Override
  public void afterEach(ExtensionContext context) {
    Object stored = context.getStore(NAMESPACE).remove(context.getUniqueId());
    if (!(stored instanceof Started started)) {
      check(Set.of(), context.getDisplayName() + " left collector threads running: ");
      return;
    }
    Tests tests = tests(context);
    Group group = started.group();
    boolean alone;
    boolean last;
    List<String> members;
    tests.lock.lock();
    try {
      group.running--;
      alone = group.members.size() == 1;
      last = group.running == 0;
      members = List.copyOf(group.members);
    } finally {
      tests.lock.unlock();
    }
    if (alone) {
      check(started.before(), context.getDisplayName() + " left collector threads running: ");
    } else if (last) {
      check(
          group.baseline,
          "one of the tests that ran concurrently, "
              + members
              + ", left"
              + " collector threads running (a leak cannot be told apart between tests that"
              + " overlap; it is reported once, by the last of them to end, "
              + context.getDisplayName()
              + "; run them alone to find the leaker): ");
    }
    // else: it overlapped tests still running; the last of them checks for the whole group
  }

  private static void check(Set<?> before, String what) {
    List<CollectorThread> leaked = leakedSince(before);
    long deadline = System.nanoTime() + GRACE_NANOS;
    while (!leaked.isEmpty() && System.nanoTime() < deadline) {
      LockSupport.parkNanos(20_000_000L); // a thread that is ending leaves the dump shortly
      leaked = leakedSince(before);
    }
    if (!leaked.isEmpty()) {
      throw new AssertionError(
          what
              + leaked.stream().map(CollectorThread::name).toList()
              + ". Close every collector (try-with-resources) and make handlers end on interrupt");
    }
  }

  private static List<CollectorThread> leakedSince(Set<?> before) {
    return collectorThreads().stream().filter(t -> !before.contains(t.id())).toList();
  }

  /**
   * The names of the collector threads alive now.
   *
   * @return the names, empty if none
   */
  public static List<String> liveCollectorThreads() {
    return collectorThreads().stream().map(CollectorThread::name).toList();
  }

  /**
   * The collector threads alive now: threads whose stack runs the collector's run code.
   *
   * @return them, empty if none
   */
  public static List<CollectorThread> collectorThreads() {
    List<CollectorThread> found = new ArrayList<>();
    Matcher m = THREAD.matcher(threadDump());
    while (m.find()) {
      if (COLLECTOR_FRAME.matcher(m.group(3)).find()) {
        found.add(new CollectorThread(Long.parseLong(m.group(1)), m.group(2)));
      }
    }
    return found;
  }

  private static String threadDump() {
    try {
      Path dir = Files.createTempDirectory("collector-leak-check");
      Path dump = dir.resolve("threads.json");
      try {
        ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class)
            .dumpThreads(dump.toString(), HotSpotDiagnosticMXBean.ThreadDumpFormat.JSON);
        return Files.readString(dump);
      } finally {
        Files.deleteIfExists(dump);
        Files.deleteIfExists(dir);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("could not take a thread dump", e);
    }
  }

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext extension) {
    return parameter.getParameter().getType() == CompletionController.class;
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext extension) {
    return new CompletionController<>();
  }
}
