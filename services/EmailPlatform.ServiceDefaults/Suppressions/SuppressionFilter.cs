using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace EmailPlatform.ServiceDefaults.Suppressions;

/// <summary>
/// A Bloom filter of suppressed addresses (their <see cref="Addresses.AddressKeys"/> form), which the status service
/// builds from its suppression list and the delivery workers download (<c>GET /v1/suppressions/filter</c>), so that an
/// address the filter does not hold is known not to be suppressed without asking the status service. An address it
/// holds may be suppressed: that one is looked up. Ten bits per address and seven hashes make about one address in
/// 120 that is not suppressed a needless lookup; none that is suppressed is ever missed.
/// </summary>
/// <remarks>
/// The bytes: <c>EPSF</c>, a format version (1), the number of hashes, two reserved bytes, then the number of addresses
/// and the number of bits (each a little-endian 64-bit integer), then the bits, 64 to a little-endian word. The hashes
/// are XxHash3 (seed 0) of the address's UTF-8 bytes, split into two 32-bit halves combined as
/// <c>h1 + i × h2</c> (Kirsch and Mitzenmacher), each taken modulo the number of bits.
/// </remarks>
public sealed class SuppressionFilter
{
    public const string MediaType = "application/vnd.emailplatform.suppression-filter";

    private const byte FormatVersion = 1;
    private const int HeaderSize = 24;
    private const int BitsPerAddress = 10;
    private const int Hashes = 7;

    /// <summary>The smallest filter: an empty list still answers in one download of a few hundred bytes.</summary>
    private const long MinimumBits = 2048;

    /// <summary>The longest address hashed on the stack (an address is at most 254 bytes; anything longer is rented).</summary>
    private const int StackBytes = 1024;

    private static ReadOnlySpan<byte> Magic => "EPSF"u8;

    private readonly ulong[] _words;
    private readonly ulong _bits;

    private SuppressionFilter(ulong[] words, long count)
    {
        _words = words;
        _bits = (ulong)words.Length * 64;
        Count = count;
    }

    /// <summary>The addresses added.</summary>
    public long Count { get; private set; }

    /// <summary>The filter's size once written (<see cref="ToBytes"/>).</summary>
    public int ByteCount => HeaderSize + _words.Length * sizeof(ulong);

    /// <summary>An empty filter sized for <paramref name="expected"/> addresses.</summary>
    public static SuppressionFilter ForAddresses(long expected)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(expected);
        var bits = Math.Max(MinimumBits, expected * BitsPerAddress);
        return new SuppressionFilter(new ulong[(bits + 63) / 64], 0);
    }

    /// <summary>Adds an address key (<see cref="Addresses.AddressKeys.Of"/>).</summary>
    public void Add(string key)
    {
        var (h1, h2) = Hash(key);
        for (var i = 0UL; i < Hashes; i++)
        {
            var bit = (h1 + i * h2) % _bits;
            _words[bit >> 6] |= 1UL << (int)(bit & 63);
        }

        Count++;
    }

    /// <summary>False when the address key is certainly not in the filter; true when it may be.</summary>
    public bool MightContain(string key)
    {
        var (h1, h2) = Hash(key);
        for (var i = 0UL; i < Hashes; i++)
        {
            var bit = (h1 + i * h2) % _bits;
            if ((_words[bit >> 6] & (1UL << (int)(bit & 63))) == 0)
            {
                return false;
            }
        }

        return true;
    }

    public byte[] ToBytes()
    {
        var bytes = new byte[ByteCount];
        Magic.CopyTo(bytes);
        bytes[4] = FormatVersion;
        bytes[5] = Hashes;
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8), Count);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(16), _bits);
        for (var i = 0; i < _words.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(HeaderSize + i * sizeof(ulong)), _words[i]);
        }

        return bytes;
    }

    /// <summary>Reads a filter written by <see cref="ToBytes"/>; null when the bytes are not one this version reads.</summary>
    public static SuppressionFilter? Read(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < HeaderSize || !bytes[..4].SequenceEqual(Magic) || bytes[4] != FormatVersion || bytes[5] != Hashes)
        {
            return null;
        }

        var count = BinaryPrimitives.ReadInt64LittleEndian(bytes[8..]);
        var bits = BinaryPrimitives.ReadUInt64LittleEndian(bytes[16..]);
        var body = bytes[HeaderSize..];
        if (count < 0 || bits == 0 || bits % 64 != 0 || (ulong)body.Length != bits / 8)
        {
            return null;
        }

        var words = new ulong[body.Length / sizeof(ulong)];
        for (var i = 0; i < words.Length; i++)
        {
            words[i] = BinaryPrimitives.ReadUInt64LittleEndian(body[(i * sizeof(ulong))..]);
        }

        return new SuppressionFilter(words, count);
    }

    private static (ulong H1, ulong H2) Hash(string key)
    {
        var length = Encoding.UTF8.GetMaxByteCount(key.Length);
        byte[]? rented = null;
        var buffer = length <= StackBytes ? stackalloc byte[StackBytes] : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            var hash = XxHash3.HashToUInt64(buffer[..Encoding.UTF8.GetBytes(key, buffer)]);
            // An odd step, so the seven bits of an address are never all one bit.
            return (hash & uint.MaxValue, (hash >> 32) | 1);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }
}
