using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace EmailPlatform.Status.Reads;

/// <summary>
/// The opaque position in the list: the last item's (created_at, id). Pages are keyset ranges below it, so rows
/// inserted meanwhile never shift later pages (no duplicates, no gaps).
/// </summary>
public readonly record struct EmailListCursor(DateTime CreatedAt, Guid Id)
{
    public string Encode() =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes($"{CreatedAt.Ticks.ToString(CultureInfo.InvariantCulture)}:{Id:N}"));

    public static bool TryDecode(string value, out EmailListCursor cursor)
    {
        cursor = default;
        try
        {
            var text = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(value));
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0 || !long.TryParse(text.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
                || ticks > DateTime.MaxValue.Ticks || !Guid.TryParseExact(text.AsSpan(colon + 1), "N", out var id))
            {
                return false;
            }

            cursor = new EmailListCursor(new DateTime(ticks, DateTimeKind.Utc), id);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
