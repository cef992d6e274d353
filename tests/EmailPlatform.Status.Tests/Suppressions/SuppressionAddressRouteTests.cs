using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Status.Tests.Suppressions;

/// <summary>
/// Addresses whose characters must be escaped in a path (<c>/</c> above all, which the server leaves as <c>%2F</c> in a
/// route value) are the same address in every <c>{address}</c> route as in the store.
/// </summary>
public sealed class SuppressionAddressRouteTests
{
    /// <summary>Legal addresses (RFC 5322 atext, and a quoted local part) that an escaped path must carry intact.</summary>
    public static TheoryData<string> Addresses => new()
    {
        "a/b@example.com",
        "50%off@example.com",
        "what?@example.com",
        "c#@example.com",
        "x+y@example.com",
        "\"john doe\"@example.com",
        "dept/50%+what?#x@example.com",
    };

    [Theory]
    [MemberData(nameof(Addresses))]
    public async Task AnAddressPutThroughItsEscapedPathIsStoredAsItselfFoundAndDeleted(string address)
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        var path = new Uri($"/v1/suppressions/{Uri.EscapeDataString(address)}", UriKind.Relative);

        using (var put = await client.PutAsJsonAsync(path, new { reason = "Asked to stop" }))
        {
            var body = await put.Content.ReadAsStringAsync();
            Assert.True(put.StatusCode == HttpStatusCode.OK, body);
            Assert.Equal(address, JsonDocument.Parse(body).RootElement.GetProperty("email").GetString());
        }

        Assert.Equal([address], await api.WithStoreAsync(db => db.Suppressions.Select(s => s.Address).ToListAsync()));
        using (var get = await client.GetAsync(path))
        {
            var body = await get.Content.ReadAsStringAsync();
            Assert.True(get.StatusCode == HttpStatusCode.OK, body);
            Assert.Equal(address, JsonDocument.Parse(body).RootElement.GetProperty("email").GetString());
        }

        using (var delete = await client.DeleteAsync(path))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        Assert.Equal(0, await api.WithStoreAsync(db => db.Suppressions.CountAsync()));
        using var gone = await client.GetAsync(path);
        await ProblemAssert.IsProblemAsync(gone, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task AHardBouncedAddressWithASlashIsFoundAtItsEscapedPathAndErasedThere()
    {
        const string address = "sales/eu@example.com";
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        var emailId = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(emailId, to: [address]), TestEvents.Bounced(emailId, address));
        var escaped = Uri.EscapeDataString(address);

        // The delivery worker's lookup: GET with the address escaped as a data string (/ as %2F).
        using (var get = await client.GetAsync(new Uri($"/v1/suppressions/{escaped}", UriKind.Relative)))
        {
            var body = await get.Content.ReadAsStringAsync();
            Assert.True(get.StatusCode == HttpStatusCode.OK, body);
            Assert.Equal("bounce", JsonDocument.Parse(body).RootElement.GetProperty("source").GetString());
        }

        using var erase = await client.DeleteAsync(new Uri($"/v1/recipients/{escaped}", UriKind.Relative));
        var erased = await erase.Content.ReadAsStringAsync();
        Assert.True(erase.StatusCode == HttpStatusCode.OK, erased);
        using var counts = JsonDocument.Parse(erased);
        Assert.Equal((1, 1), (counts.RootElement.GetProperty("emails").GetInt32(), counts.RootElement.GetProperty("suppressions").GetInt32()));
        Assert.Equal(0, await api.WithStoreAsync(db => db.Recipients.CountAsync(r => r.Address == address)));
    }
}
