using System.Collections.Concurrent;
using System.Data.Common;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using EmailPlatform.Contracts;
using EmailPlatform.Status.Recording;
using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Testing;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;

namespace EmailPlatform.Status.Tests.Recording;

/// <summary>The consumers as deployed: events published to a real RabbitMQ virtual host reach the read API.</summary>
[Collection(RecordedEventsCounter.Collection)]
public sealed class StatusConsumersTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task EventsPublishedOnRabbitMqAreRecordedAndReadBack()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        // Connected, with its endpoints (queues bound to the event exchanges) declared: what is published now is consumed.
        await api.WaitForBusAsync(Timeout);
        var bus = api.Services.GetRequiredService<IBus>();
        var emailId = Guid.NewGuid();
        var deferred = TestEvents.Deferred(emailId, "bob@example.com", nextAttemptAt: DateTimeOffset.UtcNow.AddMinutes(5));
        var failed = new EmailFailed(NewId.NextGuid(), emailId, "carol@example.com", null, 3, null, "retry window expired", DateTimeOffset.UtcNow);

        await bus.Publish(TestEvents.Delivered(emailId, "alice@example.com"));
        await bus.Publish(TestEvents.Accepted(emailId, to: ["alice@example.com", "bob@example.com"], cc: ["carol@example.com"]));
        await bus.Publish(deferred);
        await bus.Publish(failed);

        var delayed = await GetWhenAsync(client, emailId, e => e.GetProperty("events").GetArrayLength() == 4, "four recorded events");
        Assert.Equal("delivery_delayed", delayed.GetProperty("last_event").GetString());
        Assert.Equal("Your receipt", delayed.GetProperty("subject").GetString());
        var bob = Recipient(delayed, "bob@example.com");
        Assert.Equal(("deferred", deferred.Reason, 451), (bob.GetProperty("status").GetString(), bob.GetProperty("reason").GetString(), bob.GetProperty("last_reply").GetProperty("code").GetInt32()));
        Assert.Equal(JsonValueKind.String, bob.GetProperty("next_attempt_at").ValueKind);
        var carol = Recipient(delayed, "carol@example.com");
        Assert.Equal(("failed", "retry window expired", 3), (carol.GetProperty("status").GetString(), carol.GetProperty("reason").GetString(), carol.GetProperty("attempts").GetInt32()));
        Assert.Equal("delivered", Recipient(delayed, "alice@example.com").GetProperty("status").GetString());

        await bus.Publish(TestEvents.Bounced(emailId, "bob@example.com", attempt: 2));

        var final = await GetWhenAsync(client, emailId, e => e.GetProperty("last_event").GetString() == "bounced", "the bounce to be recorded");
        Assert.Equal("bounced", Recipient(final, "bob@example.com").GetProperty("status").GetString());
        Assert.Equal(5, final.GetProperty("events").GetArrayLength());

        // 5.1.1 user unknown: the address is suppressed, with the bounce as its source.
        using var suppressed = await client.GetAsync(new Uri("/v1/suppressions/bob@example.com", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, suppressed.StatusCode);
    }

    [Fact]
    public async Task SuppressedRecipientEventOnRabbitMqMakesTheRecipientSuppressed()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        await api.WaitForBusAsync(Timeout);
        var bus = api.Services.GetRequiredService<IBus>();
        var emailId = Guid.NewGuid();

        await bus.Publish(TestEvents.Accepted(emailId, to: ["alice@example.com", "bob@example.com"]));
        await bus.Publish(new EmailSuppressed(NewId.NextGuid(), emailId, "bob@example.com", "Hard bounce 550 5.1.1", DateTimeOffset.UtcNow));
        await bus.Publish(TestEvents.Delivered(emailId, "alice@example.com"));

        var final = await GetWhenAsync(client, emailId, e => e.GetProperty("last_event").GetString() == "suppressed", "the suppression to be recorded");
        var bob = Recipient(final, "bob@example.com");
        Assert.Equal(("suppressed", "Hard bounce 550 5.1.1"), (bob.GetProperty("status").GetString(), bob.GetProperty("reason").GetString()));
        Assert.Contains(final.GetProperty("events").EnumerateArray(), e => e.GetProperty("type").GetString() == "email.suppressed");
    }

    [Fact]
    public async Task TheEmailShowsTheTraceIdItWasAcceptedInAndRecordedEventsAreCounted()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        await api.WaitForBusAsync(Timeout);
        var bus = api.Services.GetRequiredService<IBus>();
        var emailId = Guid.NewGuid();

        // As the ingress does: the accept's trace continues through the bus (W3C trace context) into the status service.
        string acceptedIn;
        // Recorded (sampled), as a traced request is: MassTransit writes trace context only for a sampled send.
        using (var ingress = new Activity("ingress accept") { ActivityTraceFlags = ActivityTraceFlags.Recorded }.SetIdFormat(ActivityIdFormat.W3C).Start())
        {
            acceptedIn = ingress.TraceId.ToHexString();
            // An email sent at once: its hand-over to the workers travels in the accept's message.
            await bus.Publish(TestEvents.Accepted(emailId, to: ["alice@example.com"]) with { Queued = TestEvents.Queued(emailId) });
        }

        // The worker's outcome travels in a trace of its own here; the email keeps the accept's.
        await bus.Publish(TestEvents.Delivered(emailId, "alice@example.com"));

        var email = await GetWhenAsync(client, emailId, e => e.GetProperty("last_event").GetString() == "delivered", "the delivery to be recorded");
        Assert.Equal(acceptedIn, email.GetProperty("trace_id").GetString());
        Assert.Equal(["email.accepted", "email.delivered", "email.queued"],
            email.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("type").GetString()).Order(StringComparer.Ordinal));

        // The counter is added to after the commit, which the read above may have seen first.
        string[] counted = [.. new[] { "email.accepted", "email.queued", "email.delivered" }.Select(type =>
            "emailplatform_status_events_recorded_total\\{[^}]*emailplatform_event_type=\"" + type + "\"[^}]*\\} 1")];
        var metrics = await Eventually.GetAsync(() => client.GetStringAsync(new Uri("/metrics", UriKind.Relative)),
            m => counted.All(c => Regex.IsMatch(m, c)), TimeSpan.FromSeconds(15), "each event counted once");
        Assert.All(counted, c => Assert.Matches(c, metrics));
    }

    [Fact]
    public async Task ABatchWithADuplicateAndAnEventTheStoreRefusesRecordsTheOthersOnceAndFaultsOnlyThatEvent()
    {
        // Half a second of gathering puts everything published below into one batch.
        await using var api = await StatusApi.StartAsync(new Dictionary<string, string> { ["Status:Recording:MaxBatchDelay"] = "00:00:00.5" });
        using var client = api.CreateClient();
        await api.WaitForBusAsync(Timeout);
        var faults = new ConcurrentQueue<Fault<EmailBounced>>();
        var listener = await StartFaultListenerAsync(api, faults);
        try
        {
            var bus = api.Services.GetRequiredService<IBus>();
            var emailId = Guid.NewGuid();
            var delivered = TestEvents.Delivered(emailId, "alice@example.com");
            // PostgreSQL stores no NUL character in a text: this event can never be recorded.
            var refused = TestEvents.Bounced(emailId, "bob@example.com") with { Reply = new SmtpReply(550, "5.1.1", "User\0unknown") };
            var deferred = TestEvents.Deferred(emailId, "carol@example.com");

            await bus.Publish(TestEvents.Accepted(emailId, to: ["alice@example.com", "bob@example.com", "carol@example.com"]));
            await bus.Publish(delivered);
            await bus.Publish(refused);
            await bus.Publish(delivered);
            await bus.Publish(deferred);

            var fault = await Eventually.GetAsync(
                () => Task.FromResult(faults.TryPeek(out var f) ? f : null), f => f is not null, Timeout, "the refused event's fault");
            Assert.Equal(refused.EventId, fault!.Message.EventId);
            var email = await GetWhenAsync(client, emailId, e => e.GetProperty("events").GetArrayLength() >= 3, "the other events to be recorded");
            Assert.Equal(
                ["email.accepted", "email.deferred", "email.delivered"],
                email.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("type").GetString()).Order());
            Assert.Equal("delivered", Recipient(email, "alice@example.com").GetProperty("status").GetString());
            Assert.Equal("queued", Recipient(email, "bob@example.com").GetProperty("status").GetString());
            Assert.Equal("deferred", Recipient(email, "carol@example.com").GetProperty("status").GetString());
            Assert.Single(faults);
        }
        finally
        {
            await listener.StopAsync();
        }
    }

    [Fact]
    public async Task AnEventTheRecorderCannotApplyGoesToTheErrorQueueWithoutRetriesAndTheRestOfItsBatchIsRecorded()
    {
        var poisoned = Guid.NewGuid();
        var attempts = new LockStatementsNaming(poisoned);
        // Half a second of gathering puts everything published below into one batch.
        await using var api = await StatusApi.StartAsync(
            new Dictionary<string, string> { ["Status:Recording:MaxBatchDelay"] = "00:00:00.5" },
            s => s.ConfigureDbContext<PostgresStatusDbContext>(o => o.AddInterceptors(attempts)));
        using var client = api.CreateClient();
        await api.WaitForBusAsync(Timeout);
        var faults = new ConcurrentQueue<Fault<EmailAccepted>>();
        var listener = await StartFaultListenerAsync(api, faults);
        try
        {
            var bus = api.Services.GetRequiredService<IBus>();
            var healthy = Guid.NewGuid();
            // Not a store error: a message without its metadata (not even an empty one) fails the same way every time.
            var malformed = TestEvents.Accepted(poisoned, to: ["bob@example.com"]) with { Metadata = null! };

            await bus.Publish(TestEvents.Accepted(healthy, to: ["alice@example.com"]));
            await bus.Publish(malformed);
            await bus.Publish(TestEvents.Delivered(healthy, "alice@example.com"));

            var fault = await Eventually.GetAsync(
                () => Task.FromResult(faults.TryPeek(out var f) ? f : null), f => f is not null, Timeout, "the malformed event's fault");
            Assert.Equal(malformed.EventId, fault!.Message.EventId);
            // Tried with its batch and then alone, never again: each of the retry policy's tries would have locked it once more.
            Assert.InRange(attempts.Count, 1, 2);
            Assert.Contains(fault.Exceptions, e => e.ExceptionType.Contains(nameof(UnrecordableEventException), StringComparison.Ordinal));

            var email = await GetWhenAsync(client, healthy, e => e.GetProperty("last_event").GetString() == "delivered", "the healthy email's delivery");
            Assert.Equal(2, email.GetProperty("events").GetArrayLength());
            Assert.Single(faults);
            Assert.InRange(attempts.Count, 1, 2);
        }
        finally
        {
            await listener.StopAsync();
        }
    }

    /// <summary>A bus of the test's own on the status service's broker, collecting the faults of <typeparamref name="T"/> that its consumers publish.</summary>
    private static async Task<IBusControl> StartFaultListenerAsync<T>(StatusApi api, ConcurrentQueue<Fault<T>> faults)
        where T : class
    {
        var listener = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(api.RabbitMqUri);
            cfg.ReceiveEndpoint("status-faults-test", e => e.Handler<Fault<T>>(context =>
            {
                faults.Enqueue(context.Message);
                return Task.CompletedTask;
            }));
        });
        await listener.StartAsync(new CancellationTokenSource(Timeout).Token);
        return listener;
    }

    /// <summary>Counts the recorder's row locks that take <paramref name="emailId"/>: one per attempt to record a batch with its events.</summary>
    private sealed class LockStatementsNaming(Guid emailId) : DbCommandInterceptor
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
            DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
        {
            if (command.CommandText.Contains("FOR UPDATE", StringComparison.Ordinal)
                && command.Parameters.Cast<DbParameter>().Any(p => p.Value is Guid[] ids && ids.Contains(emailId)))
            {
                Interlocked.Increment(ref _count);
            }

            return ValueTask.FromResult(result);
        }
    }

    private static async Task<JsonElement> GetWhenAsync(HttpClient client, Guid emailId, Func<JsonElement, bool> done, string what)
    {
        var body = await Eventually.GetAsync(
            async () =>
            {
                using var response = await client.GetAsync(new Uri($"/v1/emails/{emailId}", UriKind.Relative));
                return response.IsSuccessStatusCode ? await response.Content.ReadAsStringAsync() : null;
            },
            json => json is not null && done(Parse(json)),
            Timeout,
            what);
        return Parse(body!);
    }

    private static JsonElement Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    private static JsonElement Recipient(JsonElement email, string address) =>
        email.GetProperty("recipients").EnumerateArray().Single(r => r.GetProperty("email").GetString() == address);
}

/// <summary>
/// Tests that record through the service's event writer, which counts into <c>emailplatform.status.events.recorded</c>:
/// the metrics pipeline listens to that meter by name in every host of the process, so they must not run at the same time
/// as a test that asserts on the count.
/// </summary>
internal static class RecordedEventsCounter
{
    public const string Collection = "recorded events counter";
}
