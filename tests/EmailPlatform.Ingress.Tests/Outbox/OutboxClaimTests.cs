using System.Net;
using System.Text;
using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.ServiceDefaults.Messaging;
using EmailPlatform.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;

namespace EmailPlatform.Ingress.Tests.Outbox;

/// <summary>
/// The publisher claims a batch (<c>publishing_until</c>, committed) before it sends anything, and marks each row's
/// outcome on its own, on the real PostgreSQL and RabbitMQ: a cancel never wins against a command the broker may
/// already have, and a row that cannot be published never holds back the rows behind it.
/// </summary>
public sealed class OutboxClaimTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The statement that marks rows published fails, as a PostgreSQL restart between the broker's confirm and the mark
    /// does. Before the claim, the row then looked unsent, and a cancel or reschedule answered 200 while a worker could
    /// already be sending the email (and a reschedule sent it a second time at the new time).
    /// </summary>
    [Theory]
    [InlineData("cancel")]
    [InlineData("reschedule")]
    public async Task AnEmailWhoseCommandReachedTheBrokerCannotBeChangedEvenWhenItsMarkFailed(string change)
    {
        await using var app = await IngressApp.StartAsync(settings: new Dictionary<string, string?> { ["Ingress:Outbox:PollInterval"] = "00:00:00.100" });
        await app.ExecuteSqlAsync("""
            CREATE FUNCTION refuse_publish_mark() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'the store failed between the broker''s confirm and the mark'; END $$;
            CREATE TRIGGER refuse_publish_mark BEFORE UPDATE OF published_at ON outbox_messages
            FOR EACH ROW WHEN (NEW.published_at IS NOT NULL) EXECUTE FUNCTION refuse_publish_mark();
            """);
        await using var commands = await CountingQueue.BindAsync(app.RabbitMq!, DeliveryLanes.Normal);
        using var client = app.CreateClient();
        var due = DateTimeOffset.UtcNow.AddSeconds(5);
        var id = await AcceptAsync(client, SendBodies.Json(b => b["scheduled_at"] = due.ToString("O")).ToJsonString());

        await Eventually.GetAsync(() => PutBackProbe.MessagesInAsync(app.RabbitMq!, DeliveryLanes.Normal), n => n >= 1, Wait, "the command on its lane");
        using var response = change == "cancel"
            ? await client.PostAsync(new Uri($"/v1/emails/{id}/cancel", UriKind.Relative), null)
            : await client.PatchAsync(new Uri($"/v1/emails/{id}", UriKind.Relative),
                new StringContent($$"""{"scheduled_at": "{{DateTimeOffset.UtcNow.AddDays(10):O}}"}""", Encoding.UTF8, "application/json"));

        await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.Conflict, "validation_error");
        Assert.Contains(id, await commands.DrainAsync());
        var rows = (await app.OutboxRowsAsync()).Where(r => r.EmailId == id).ToList();
        Assert.All(rows, r => Assert.Null(r.PublishedAt));
        Assert.Equal(due.UtcDateTime, rows.Single(r => r.MessageType == "SendEmail").AvailableAt, TimeSpan.FromMilliseconds(1));
        Assert.DoesNotContain(rows, r => r.MessageType is "EmailCanceled" or "EmailRescheduled");
    }

    /// <summary>
    /// The high lane's queue is gone (deleted by an operator; the mandatory send is returned), so the one high-priority
    /// email at the head of the outbox can never be published. Before, it failed its whole batch again and again: its
    /// batch-mates were sent on every retry and nothing behind them moved. Five of them fill a batch of their own: that
    /// batch failed as a whole, was taken for an outage and claimed first again after every back-off, and nothing behind
    /// it moved either.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public async Task RowsThatCannotBePublishedNeitherHoldBackNorRepeatTheRowsBehindThem(int unpublishable)
    {
        await using var app = await IngressApp.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Ingress:Outbox:BatchSize"] = "5", ["Ingress:Outbox:PublishTimeout"] = "00:00:02",
        });
        await using (var connection = await new ConnectionFactory { Uri = app.RabbitMq! }.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync())
        {
            await channel.QueueDeleteAsync(DeliveryLanes.High);
        }

        await using var sent = await CountingQueue.BindAsync(app.RabbitMq!, DeliveryLanes.Normal);
        using var client = app.CreateClient();
        var stuck = new List<Guid>();
        for (var i = 0; i < unpublishable; i++)
        {
            stuck.Add(await AcceptAsync(client, SendBodies.Json(b => b["priority"] = "high").ToJsonString()));
        }

        var normal = new List<Guid>();
        for (var i = 0; i < 20; i++)
        {
            normal.Add(await AcceptAsync(client, SendBodies.Json().ToJsonString()));
        }

        await Eventually.GetAsync(async () => (await app.OutboxRowsAsync()).Count(r => r.PublishedAt is null), n => n == unpublishable, Wait,
            "every row but the unpublishable ones published");
        Assert.Equal(normal.Order(), (await sent.DrainAsync()).Order());
        var rows = (await app.OutboxRowsAsync()).Where(r => r.PublishedAt is null).ToList();
        Assert.Equal(stuck.Order(), rows.Select(r => r.EmailId).Order());
        Assert.All(rows, r => Assert.NotNull(r.PublishingUntil));
    }

    /// <summary>
    /// With the broker unreachable nothing is claimed: every email waiting in the outbox can still be canceled, and
    /// once the broker is reachable again the rest are published.
    /// </summary>
    [Fact]
    public async Task WhileTheBrokerIsUnreachableNothingIsClaimedAndEveryWaitingEmailCanBeCanceled()
    {
        var nowhere = new Uri($"amqp://guest:guest@127.0.0.1:{ServiceProcess.FreeTcpPort()}/");
        await using var app = await IngressApp.StartAsync(rabbitMq: nowhere, settings: new Dictionary<string, string?>
        {
            ["Ingress:Outbox:BatchSize"] = "2", ["Ingress:Outbox:PublishTimeout"] = "00:00:01", ["Ingress:Outbox:PollInterval"] = "00:00:00.100",
        });
        using var client = app.CreateClient();
        var ids = new List<Guid>();
        for (var i = 0; i < 4; i++)
        {
            ids.Add(await AcceptAsync(client, SendBodies.Json().ToJsonString()));
        }

        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.All(await app.OutboxRowsAsync(), r => Assert.Null(r.PublishingUntil));
        foreach (var id in ids)
        {
            using var canceled = await client.PostAsync(new Uri($"/v1/emails/{id}/cancel", UriKind.Relative), null);
            Assert.Equal(HttpStatusCode.OK, canceled.StatusCode);
        }
    }

    /// <summary>
    /// Replica A's round outlives its lease (held in its publish of the email's <c>EmailQueued</c>; here its clock is
    /// behind, as skewed clocks make it), replica B claims the rows, and then A's round fails. A used to mark the rows by
    /// id alone: it released the untried command (a cancel then deleted it and answered 200 while B was sending it) and
    /// ended the event's lease (a third publisher would send it again). Now it changes only rows that still carry its claim.
    /// </summary>
    [Theory]
    [InlineData("PostgreSQL")]
    [InlineData("SQLite")]
    public async Task ARoundThatOutlivedItsLeaseLeavesTheRowsClaimedSinceByAnotherReplicaAsThatReplicaClaimedThem(string store)
    {
        await using var database = await TemporaryDatabase.CreateAsync();
        await using var vhost = await TemporaryVirtualHost.CreateAsync();
        await LaneQueues.DeclareAsync(vhost.Uri);
        var apiKey = TestInfrastructure.NewApiKey();
        var settings = new Dictionary<string, string?> { ["Ingress:Outbox:PollInterval"] = "00:00:00.100", ["Ingress:Outbox:PublishTimeout"] = "00:00:01" };
        var file = Path.Combine(Path.GetTempPath(), $"emailplatform-claims-{Guid.NewGuid():N}.db");
        if (store == "SQLite")
        {
            // Both replicas on one SQLite file (timestamps stored as text), the PostgreSQL database unused.
            settings["ConnectionStrings:Postgres"] = "";
            settings["ConnectionStrings:Sqlite"] = $"Data Source={file};Pooling=false";
        }

        try
        {
            await RoundOutlivingItsLeaseAsync(database, vhost, apiKey, settings);
        }
        finally
        {
            foreach (var path in new[] { file, file + "-wal", file + "-shm" })
            {
                File.Delete(path);
            }
        }
    }

    private static async Task RoundOutlivingItsLeaseAsync(TemporaryDatabase database, TemporaryVirtualHost vhost, string apiKey, Dictionary<string, string?> settings)
    {
        var clockA = new AdvancingClock();
        var clockB = new AdvancingClock();
        var logsA = new LogCapture();
        await using var a = await IngressApp.StartAsync(vhost.Uri, settings, database, apiKey,
            s => s.AddSingleton<TimeProvider>(clockA).AddSingleton<ILoggerProvider>(logsA));
        using var heldA = new HeldPublishes<EmailQueued>(a.Services.GetRequiredService<IBusControl>());
        using var client = a.CreateClient();
        var id = await AcceptAsync(client, SendBodies.Json(b => b["scheduled_at"] = DateTimeOffset.UtcNow.AddHours(1).ToString("O")).ToJsonString());
        await Eventually.GetAsync(async () => (await a.OutboxRowsAsync()).Single(r => r.EmailId == id && r.MessageType == nameof(EmailAccepted)).PublishedAt,
            at => at is not null, Wait, "the email's EmailAccepted to be published");

        clockA.Advance(TimeSpan.FromHours(2));
        await heldA.Entered.WaitAsync(Wait);
        var logsB = new LogCapture();
        await using var b = await IngressApp.StartAsync(vhost.Uri, settings, database, apiKey,
            s => s.AddSingleton<TimeProvider>(clockB).AddSingleton<ILoggerProvider>(logsB));
        using var heldB = new HeldPublishes<EmailQueued>(b.Services.GetRequiredService<IBusControl>());
        var claimedByA = await ClaimsAsync(a, id);
        Assert.Equal(2, claimedByA.Count);
        Assert.All(claimedByA.Values, until => Assert.NotNull(until));
        // B's clock is past A's lease: for B the rows are due again, and it claims them.
        clockB.Advance(TimeSpan.FromHours(2) + TimeSpan.FromMinutes(1));
        await heldB.Entered.WaitAsync(Wait);
        var claimedByB = await ClaimsAsync(a, id);
        Assert.All(claimedByB, claim => Assert.True(claim.Value > claimedByA[claim.Key]));

        // A's publish fails at last; its round writes its outcome, fails as a whole and backs off (logged).
        var failuresBefore = logsA.Entries.Count(e => e.Id == 1101);
        heldA.Refuse();
        await Eventually.GetAsync(() => Task.FromResult(logsA.Entries.Count(e => e.Id == 1101)), n => n > failuresBefore, Wait, "A's round to end");

        Assert.Equal(claimedByB, await ClaimsAsync(a, id));
        Assert.All((await a.OutboxRowsAsync()).Where(r => r.EmailId == id && r.MessageType != nameof(EmailAccepted)), r => Assert.Null(r.PublishedAt));
        using var cancel = await client.PostAsync(new Uri($"/v1/emails/{id}/cancel", UriKind.Relative), null);
        await ProblemAssert.IsDetailedProblemAsync(cancel, HttpStatusCode.Conflict, "validation_error");
        Assert.DoesNotContain(await a.OutboxRowsAsync(), r => r.EmailId == id && r.MessageType == nameof(EmailCanceled));
        Assert.Equal(claimedByB.Keys.Order(), logsA.Entries.Where(e => e.Id == 1105).Select(e => Guid.Parse(e.Message.Split(' ')[2])).Order());

        // B's round fails in turn, and writes its outcome to the rows it holds: its claim is recognised as its own.
        heldB.Refuse();
        await Eventually.GetAsync(() => Task.FromResult(logsB.Entries.Count(e => e.Id == 1101)), n => n > 0, Wait, "B's round to end");
        Assert.DoesNotContain(logsB.Entries, e => e.Id == 1105);
    }

    /// <summary>The claims on an email's <c>EmailQueued</c> and <c>SendEmail</c> rows, by row id.</summary>
    private static async Task<Dictionary<Guid, DateTime?>> ClaimsAsync(IngressApp app, Guid emailId) =>
        (await app.OutboxRowsAsync()).Where(r => r.EmailId == emailId && r.MessageType is nameof(EmailQueued) or nameof(SendEmail))
            .ToDictionary(r => r.Id, r => r.PublishingUntil);

    private static async Task<Guid> AcceptAsync(HttpClient client, string json)
    {
        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails", json);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("id").GetGuid();
    }
}
