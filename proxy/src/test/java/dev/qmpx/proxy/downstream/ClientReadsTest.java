package dev.qmpx.proxy.downstream;

import dev.qmpx.proxy.fds.PendingFds;
import org.junit.jupiter.api.Test;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketPair;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The proxy's own recvmsg: every fd the kernel installs is handed over, up to SCM_MAX_FD per message. */
class ClientReadsTest {

    @Test
    void aMessageWithTheMostFdsTheKernelAllowsArrivesWhole() throws Exception {
        try (AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
             FileInputStream file = new FileInputStream("/dev/null")) {
            FileDescriptor[] sent = new FileDescriptor[ClientReads.MAX_FDS_PER_MESSAGE];
            Arrays.fill(sent, file.getFD());
            pair.getSocket1().setOutboundFileDescriptors(sent);
            pair.getSocket1().write(ByteBuffer.wrap("{\"execute\": \"getfd\"}".getBytes(StandardCharsets.US_ASCII)));
            pair.getSocket2().configureBlocking(false);

            ClientReads reads = new ClientReads();
            ClientReads.Read read = reads.read(pair.getSocket2().getFileDescriptor(), 64 * 1024);
            try {
                assertEquals("{\"execute\": \"getfd\"}", new String(reads.buffer(), 0, read.length(), StandardCharsets.US_ASCII));
                assertEquals(ClientReads.MAX_FDS_PER_MESSAGE, read.fds().length,
                        "junixsocket's 256-byte buffer gave 60 and an error here");
                assertFalse(read.truncated());
                assertTrue(Arrays.stream(read.fds()).allMatch(FileDescriptor::valid));
            } finally {
                Arrays.stream(read.fds()).forEach(PendingFds::close);
            }
            assertEquals(0, reads.read(pair.getSocket2().getFileDescriptor(), 64 * 1024).length(), "nothing more is waiting");
            pair.getSocket1().close();
            assertEquals(-1, reads.read(pair.getSocket2().getFileDescriptor(), 64 * 1024).length(), "end of stream");
        }
    }
}
