package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The project's structured scope: the JDK 25 StructuredTaskScope contract on JDK 21 APIs. */
@Timeout(value = 10, unit = TimeUnit.SECONDS)
class StructuredScopeTest {

  @Test
  void forkJoin_allSucceed_resultsAvailableAndThreadsNamed() throws Exception {
    try (var scope = new StructuredScope()) {
      var a = scope.fork("t-a", () -> Thread.currentThread().getName());
      var b = scope.fork("t-b", () -> 2);
      scope.join();
      assertEquals("t-a", a.get());
      assertEquals(2, b.get());
      assertEquals(StructuredScope.SubtaskState.SUCCESS, b.state());
      assertTrue(Thread.currentThread().isVirtual() || !a.get().isEmpty());
    }
  }

  @Test
  void join_firstFailureWins_cancelsOthers_laterFailuresSuppressed() throws Exception {
    var blocked = new CountDownLatch(1);
    var interrupted = new AtomicBoolean();
    var first = new IOException("first");
    try (var scope = new StructuredScope()) {
      scope.fork(
          "sleeper",
          () -> {
            try {
              blocked.countDown();
              new CountDownLatch(1).await();
            } catch (InterruptedException e) {
              interrupted.set(true);
              throw new IllegalStateException("after cancel", e);
            }
            return null;
          });
      blocked.await();
      var failing =
          scope.fork(
              "failing",
              () -> {
                throw first;
              });
      var e = assertThrows(StructuredScope.FailedException.class, scope::join);
      assertSame(first, e.getCause());
      assertEquals(StructuredScope.SubtaskState.FAILED, failing.state());
      assertSame(first, failing.exception());
      assertTrue(scope.isCancelled());
    }
    assertTrue(interrupted.get(), "the other subtask was not interrupted");
    // its failure came from the cancellation's interrupt: not added as suppressed
    assertEquals(List.of(), List.of(first.getSuppressed()));
  }

  @Test
  void fork_fromOtherThread_throwsWrongThread() throws Exception {
    try (var scope = new StructuredScope()) {
      var thrown = new AtomicReference<Throwable>();
      Thread t =
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      scope.fork("x", () -> 1);
                    } catch (Throwable e) {
                      thrown.set(e);
                    }
                  });
      t.join();
      assertInstanceOf(WrongThreadException.class, thrown.get());
      scope.join();
    }
  }

  @Test
  void fork_afterJoin_andJoinTwice_throwIllegalState() throws Exception {
    try (var scope = new StructuredScope()) {
      scope.join();
      assertThrows(IllegalStateException.class, () -> scope.fork("x", () -> 1));
      assertThrows(IllegalStateException.class, scope::join);
    }
  }

  @Test
  void fork_afterCancel_returnsUnavailableAndRunsNothing() throws Exception {
    var ran = new AtomicBoolean();
    try (var scope = new StructuredScope()) {
      scope.cancel();
      var subtask =
          scope.fork(
              "x",
              () -> {
                ran.set(true);
                return 1;
              });
      scope.join();
      assertEquals(StructuredScope.SubtaskState.UNAVAILABLE, subtask.state());
    }
    assertFalse(ran.get());
  }

  @Test
  void close_withoutJoin_cancelsWaitsThenThrowsIllegalState() throws Exception {
    var started = new CountDownLatch(1);
    var ended = new AtomicBoolean();
    var scope = new StructuredScope();
    scope.fork(
        "x",
        () -> {
          started.countDown();
          try {
            new CountDownLatch(1).await();
          } finally {
            ended.set(true);
          }
          return null;
        });
    started.await();
    assertThrows(IllegalStateException.class, scope::close);
    assertTrue(ended.get(), "close returned before the subtask ended");
  }

  @Test
  void close_ownerInterruptedWhileWaiting_waitsAnywayAndRestoresInterrupt() throws Exception {
    var result = new CompletableFuture<Boolean>();
    var release = new CountDownLatch(1);
    var started = new CountDownLatch(1);
    Thread owner =
        Thread.ofPlatform()
            .start(
                () -> {
                  var scope = new StructuredScope();
                  scope.fork(
                      "stubborn",
                      () -> {
                        started.countDown();
                        // ignores interrupts until released
                        while (true) {
                          try {
                            release.await();
                            return null;
                          } catch (InterruptedException ignoredOnPurpose) {
                            // a subtask that ignores interrupts: close must still wait for it
                          }
                        }
                      });
                  try {
                    scope.close();
                  } catch (IllegalStateException expected) {
                    // never joined
                  }
                  result.complete(Thread.currentThread().isInterrupted());
                });
    started.await();
    // the owner is in close(), waiting for the stubborn subtask
    org.awaitility.Awaitility.await()
        .until(
            () ->
                owner.getState() == Thread.State.WAITING
                    || owner.getState() == Thread.State.TIMED_WAITING);
    owner.interrupt();
    assertFalse(result.isDone(), "close returned while a subtask still ran");
    release.countDown();
    assertTrue(result.get(5, TimeUnit.SECONDS), "interrupt status not restored");
  }
}
