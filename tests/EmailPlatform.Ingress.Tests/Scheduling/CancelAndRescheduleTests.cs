using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.Ingress.Outbox;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace EmailPlatform.Ingress.Tests.Scheduling;

/// <summary>
/// Cancel and reschedule of an email that has not left, by HTTP and by the <see cref="CancelEmail"/> command of the
/// status service's bulk cancel, on the real PostgreSQL and RabbitMQ.
/// </summary>
public sealed class CancelAndRescheduleTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ReschedulingToOrPastTheEmailsExpiresAtIsRefusedAndChangesNothing()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var scheduledAt = DateTimeOffset.UtcNow.AddHours(1);
        var expiresAt = scheduledAt.AddHours(1);
        var id = await AcceptAsync(app, SendBodies.Json(b => { b["scheduled_at"] = scheduledAt.ToString("O"); b["expires_at"] = expiresAt.ToString("O"); }).ToJsonString());

        using var late = await client.PatchAsync(new Uri($"/v1/emails/{id}", UriKind.Relative),
            new StringContent($$"""{"scheduled_at": "{{expiresAt.AddMinutes(1):O}}"}""", System.Text.Encoding.UTF8, "application/json"));
        await ProblemAssert.IsValidationProblemAsync(late, "validation_error", "scheduled_at");
        var unchanged = await app.FindOutboxRowAsync(id);
        Assert.Equal(scheduledAt.UtcDateTime, unchanged!.AvailableAt, TimeSpan.FromMilliseconds(1));
        Assert.DoesNotContain(await app.OutboxRowsAsync(), r => r.EmailId == id && r.MessageType == nameof(EmailRescheduled));

        using var earlier = await client.PatchAsync(new Uri($"/v1/emails/{id}", UriKind.Relative),
            new StringContent($$"""{"scheduled_at": "{{expiresAt.AddMinutes(-1):O}}"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, earlier.StatusCode);
        Assert.Equal(expiresAt.AddMinutes(-1).UtcDateTime, (await app.FindOutboxRowAsync(id))!.AvailableAt, TimeSpan.FromMilliseconds(1));
    }

    [Fact]
    public async Task AnEmailForNowThatHasNotLeftYetCanBeCanceledAndItsAcceptanceIsStillAnnounced()
    {
        // No broker: the email stays in the outbox, as one row, until the cancel splits it.
        var nowhere = new Uri($"amqp://guest:guest@127.0.0.1:{ServiceProcess.FreeTcpPort()}/");
        await using var app = await IngressApp.StartAsync(rabbitMq: nowhere);
        var id = await AcceptAsync(app, SendBodies.Json().ToJsonString());
        var acceptedEventId = (await app.FindOutboxRowAsync(id))!.Accepted.EventId;

        using var client = app.CreateClient();
        using var canceled = await client.PostAsync(new Uri($"/v1/emails/{id}/cancel", UriKind.Relative), null);

        Assert.Equal(HttpStatusCode.OK, canceled.StatusCode);
        var rows = (await app.OutboxRowsAsync()).Where(r => r.EmailId == id).ToList();
        Assert.Equal([nameof(EmailAccepted), nameof(EmailCanceled)], rows.Select(r => r.MessageType).Order());
        var accepted = JsonSerializer.Deserialize<EmailAccepted>(rows.Single(r => r.MessageType == nameof(EmailAccepted)).Payload);
        Assert.Equal(acceptedEventId, accepted!.EventId);
        Assert.Null(accepted.ScheduledAt);
    }

    [Theory]
    [InlineData("cancel")]
    [InlineData("reschedule")]
    public async Task ChangingAnEmailThatHasNotLeftYetKeepsItsMessagesInTheTraceOfItsAcceptance(string change)
    {
        // No broker: the email stays in the outbox, as one row, until the change splits it.
        var nowhere = new Uri($"amqp://guest:guest@127.0.0.1:{ServiceProcess.FreeTcpPort()}/");
        await using var app = await IngressApp.StartAsync(rabbitMq: nowhere);
        using var client = app.CreateClient();
        var accepting = ActivityTraceId.CreateRandom();
        var changing = ActivityTraceId.CreateRandom();
        using var posted = await IngressApp.PostJsonAsync(client, "/v1/emails", SendBodies.Json().ToJsonString(), ("traceparent", TraceParent(accepting)));
        var id = JsonDocument.Parse(await posted.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetGuid();

        using var request = change == "cancel"
            ? new HttpRequestMessage(HttpMethod.Post, new Uri($"/v1/emails/{id}/cancel", UriKind.Relative))
            : new HttpRequestMessage(HttpMethod.Patch, new Uri($"/v1/emails/{id}", UriKind.Relative))
            {
                Content = new StringContent($$"""{"scheduled_at": "{{DateTimeOffset.UtcNow.AddHours(1):O}}"}""", System.Text.Encoding.UTF8, "application/json"),
            };
        request.Headers.Add("traceparent", TraceParent(changing));
        using var changed = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        var rows = (await app.OutboxRowsAsync()).Where(r => r.EmailId == id).ToList();
        var announcement = change == "cancel" ? nameof(EmailCanceled) : nameof(EmailRescheduled);
        // The email's own messages (its EmailAccepted gives the status service the email's trace id) stay in the trace
        // of the request that accepted it; only the announcement of the change is in the trace of the request that made it.
        Assert.Contains(rows, r => r.MessageType == nameof(EmailAccepted));
        Assert.All(rows.Where(r => r.MessageType != announcement), r => Assert.Equal((r.MessageType, accepting), (r.MessageType, TraceIdOf(r))));
        Assert.Equal(changing, TraceIdOf(rows.Single(r => r.MessageType == announcement)));
    }

    [Fact]
    public async Task ACancelWaitingBehindARescheduleThatSplitTheEmailsRowStillCancelsIt()
    {
        // No broker: the email stays in the outbox as one row. The test holds that row's lock while a reschedule and
        // then a cancel queue up for it; the reschedule goes first and replaces the row by its parts, which the cancel's
        // own lock statement cannot see. The cancel must find them, not answer that the email was sent.
        var nowhere = new Uri($"amqp://guest:guest@127.0.0.1:{ServiceProcess.FreeTcpPort()}/");
        await using var app = await IngressApp.StartAsync(rabbitMq: nowhere);
        var id = await AcceptAsync(app, SendBodies.Json().ToJsonString());
        using var client = app.CreateClient();

        await using var holder = new Npgsql.NpgsqlConnection(app.Database.ConnectionString);
        await holder.OpenAsync();
        await using var hold = await holder.BeginTransactionAsync();
        await using (var lockRow = new Npgsql.NpgsqlCommand("SELECT id FROM outbox_messages WHERE email_id = @id FOR UPDATE", holder, hold))
        {
            lockRow.Parameters.AddWithValue("id", id);
            await lockRow.ExecuteNonQueryAsync();
        }

        var rescheduling = client.PatchAsync(new Uri($"/v1/emails/{id}", UriKind.Relative),
            new StringContent($$"""{"scheduled_at": "{{DateTimeOffset.UtcNow.AddHours(1):O}}"}""", System.Text.Encoding.UTF8, "application/json"));
        await WaitForLockWaitersAsync(app, 1);
        var canceling = client.PostAsync(new Uri($"/v1/emails/{id}/cancel", UriKind.Relative), null);
        await WaitForLockWaitersAsync(app, 2);
        await hold.CommitAsync();

        using var rescheduled = await rescheduling.WaitAsync(Wait);
        using var canceled = await canceling.WaitAsync(Wait);

        Assert.Equal(HttpStatusCode.OK, rescheduled.StatusCode);
        Assert.True(canceled.StatusCode == HttpStatusCode.OK, await canceled.Content.ReadAsStringAsync());
        var rows = (await app.OutboxRowsAsync()).Where(r => r.EmailId == id).Select(r => r.MessageType).Order().ToList();
        Assert.Equal([nameof(EmailAccepted), nameof(EmailCanceled), nameof(EmailRescheduled)], rows);
    }

    /// <summary>Until as many sessions of the app's database wait for a lock.</summary>
    private static async Task WaitForLockWaitersAsync(IngressApp app, int count)
    {
        await using var connection = new Npgsql.NpgsqlConnection(app.Database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'", connection);
        var deadline = DateTime.UtcNow + Wait;
        while (Convert.ToInt32(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture) < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"fewer than {count} sessions waited for a lock");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task CancelEmailCommandCancelsLikeTheEndpointAndIgnoresRepeatsSentAndUnknownEmails()
    {
        await using var app = await IngressApp.StartAsync();
        var consumed = new ConsumedCommands();
        var bus = app.Services.GetRequiredService<IBus>();
        using var observer = new ObserverHandle(bus.ConnectConsumeMessageObserver(consumed));
        var scheduled = await AcceptAsync(app, SendBodies.Json(b => b["scheduled_at"] = DateTimeOffset.UtcNow.AddHours(1).ToString("O")).ToJsonString());
        var immediate = await AcceptAsync(app, SendBodies.Json().ToJsonString());
        await Eventually.GetAsync(() => app.FindOutboxRowAsync(immediate), r => r?.PublishedAt is not null, Wait, "the immediate email to leave");

        // Each command is sent and handled before the next, so what each one changed can be told apart.
        foreach (var (emailId, label) in new[] { (scheduled, "cancel"), (scheduled, "repeat"), (immediate, "already sent"), (Guid.NewGuid(), "unknown") })
        {
            var command = new CancelEmail(NewId.NextGuid(), emailId, DateTimeOffset.UtcNow);
            await bus.Publish(command);
            var outcome = await consumed.WaitAsync(command.CommandId, Wait);
            Assert.True(outcome is null, $"{label}: {outcome}");
        }

        var rows = await app.OutboxRowsAsync();
        Assert.DoesNotContain(rows, r => r.EmailId == scheduled && r.MessageType is nameof(SendEmail) or nameof(EmailQueued));
        Assert.Single(rows, r => r.EmailId == scheduled && r.MessageType == nameof(EmailCanceled));
        Assert.DoesNotContain(rows, r => r.EmailId == immediate && r.MessageType == nameof(EmailCanceled));
        Assert.NotNull(await app.FindOutboxRowAsync(immediate));

        // The endpoint agrees: the email is canceled already, and the one sent is sent.
        using var client = app.CreateClient();
        using var again = await client.PostAsync(new Uri($"/v1/emails/{scheduled}/cancel", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal("Email already canceled.", JsonDocument.Parse(await again.Content.ReadAsStringAsync()).RootElement.GetProperty("title").GetString());
        using var sent = await client.PostAsync(new Uri($"/v1/emails/{immediate}/cancel", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.Conflict, sent.StatusCode);
        Assert.Equal("Email already sent.", JsonDocument.Parse(await sent.Content.ReadAsStringAsync()).RootElement.GetProperty("title").GetString());
    }

    [Fact]
    public async Task CancelingOrReschedulingAnEmailCanceledAlreadySaysItIsCanceledNotSent()
    {
        // No broker: nothing leaves the outbox, and the email's rows are all there is to go by.
        var nowhere = new Uri($"amqp://guest:guest@127.0.0.1:{ServiceProcess.FreeTcpPort()}/");
        await using var app = await IngressApp.StartAsync(rabbitMq: nowhere);
        var id = await AcceptAsync(app, SendBodies.Json(b => b["scheduled_at"] = DateTimeOffset.UtcNow.AddHours(1).ToString("O")).ToJsonString());
        using var client = app.CreateClient();
        using var canceled = await client.PostAsync(new Uri($"/v1/emails/{id}/cancel", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.OK, canceled.StatusCode);

        using var again = await client.PostAsync(new Uri($"/v1/emails/{id}/cancel", UriKind.Relative), null);
        using var moved = await client.PatchAsync(new Uri($"/v1/emails/{id}", UriKind.Relative),
            new StringContent($$"""{"scheduled_at": "{{DateTimeOffset.UtcNow.AddHours(2):O}}"}""", System.Text.Encoding.UTF8, "application/json"));

        foreach (var refused in new[] { again, moved })
        {
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            var problem = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal("Email already canceled.", problem.GetProperty("title").GetString());
            Assert.Contains("canceled already", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.DoesNotContain("sent", problem.GetProperty("title").GetString(), StringComparison.Ordinal);
        }

        Assert.Single(await app.OutboxRowsAsync(), r => r.EmailId == id && r.MessageType == nameof(EmailCanceled));
    }

    private static async Task<Guid> AcceptAsync(IngressApp app, string json)
    {
        using var response = await app.PostEmailAsync(json);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetGuid();
    }

    private static string TraceParent(ActivityTraceId trace) => $"00-{trace}-{ActivitySpanId.CreateRandom()}-01";

    private static ActivityTraceId TraceIdOf(OutboxMessage row) => ActivityContext.Parse(row.TraceParent!, null).TraceId;

    private sealed class ObserverHandle(ConnectHandle handle) : IDisposable
    {
        public void Dispose() => handle.Disconnect();
    }

    /// <summary>Completes when the ingress's consumer has handled a command: null when it succeeded, the fault's text otherwise.</summary>
    private sealed class ConsumedCommands : IConsumeMessageObserver<CancelEmail>
    {
        private readonly ConcurrentDictionary<Guid, TaskCompletionSource<string?>> _outcomes = new();

        public async Task<string?> WaitAsync(Guid commandId, TimeSpan timeout) => await Outcome(commandId).Task.WaitAsync(timeout);

        public Task PreConsume(ConsumeContext<CancelEmail> context) => Task.CompletedTask;

        public Task PostConsume(ConsumeContext<CancelEmail> context)
        {
            Outcome(context.Message.CommandId).TrySetResult(null);
            return Task.CompletedTask;
        }

        public Task ConsumeFault(ConsumeContext<CancelEmail> context, Exception exception)
        {
            Outcome(context.Message.CommandId).TrySetResult(exception.ToString());
            return Task.CompletedTask;
        }

        private TaskCompletionSource<string?> Outcome(Guid commandId) =>
            _outcomes.GetOrAdd(commandId, _ => new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously));
    }
}
